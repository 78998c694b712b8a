"""torch modules -> IR nodes: the registry the tracer consults for every leaf module.

Each converter takes the module and the traced shapes (per sample, batch axis removed) of its input and output and
returns an IR node. A module type missing from ``MODULES`` is reported as unsupported, with this list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast, overload

import numpy as np
import torch
from torch import nn

from snncompile.errors import UnsupportedError
from snncompile.frontend import (
    atsnn_modules,
    fwformer_modules,
    qkformer_modules,
    spikingjelly_modules,
    spikingresformer_modules,
)
from snncompile.ir import nodes as n
from snncompile.ir.node import Node
from snncompile.nn.layers import AttentionCore, TokenBatchNorm
from snncompile.nn.lif import LIF

Shape = tuple[int, ...]
# Any: each converter takes an instance of the module type it is registered under, which a dict cannot express.
Converter = Callable[[Any, Shape, Shape, str], Node]


@overload
def _np(t: torch.Tensor) -> np.ndarray: ...
@overload
def _np(t: torch.Tensor | None) -> np.ndarray | None: ...
def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().to(torch.float64).cpu().numpy()


def _pair(value: tuple[int, ...]) -> tuple[int, int]:
    """A 2-D module's per-axis argument: torch stores a 2-tuple but types it as ``tuple[int, ...]``."""
    return cast("tuple[int, int]", value)


def _unsupported(path: str, module: nn.Module, what: str) -> UnsupportedError:
    return UnsupportedError(f"module '{path}' ({type(module).__name__}): {what}")


def _conv(m: nn.Conv1d | nn.Conv2d, inp: Shape, out: Shape, path: str) -> Node:
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise _unsupported(path, m, "only explicit zero padding is supported (padding=int/tuple, padding_mode='zeros')")
    bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_channels)
    if isinstance(m, nn.Conv2d):
        return n.Conv2d(weight=_np(m.weight), bias=bias, stride=_pair(m.stride), padding=_pair(m.padding),
                        dilation=_pair(m.dilation), groups=m.groups)
    return n.Conv1d(weight=_np(m.weight), bias=bias, stride=m.stride[0], padding=m.padding[0],
                    dilation=m.dilation[0], groups=m.groups)


def _linear(m: nn.Linear, inp: Shape, out: Shape, path: str) -> Node:
    if m.bias is None:
        return n.Linear(weight=_np(m.weight))
    return n.Affine(weight=_np(m.weight), bias=_np(m.bias))


def _batchnorm(m: nn.modules.batchnorm._BatchNorm, inp: Shape, out: Shape, path: str) -> Node:
    if m.running_mean is None or m.running_var is None:
        raise _unsupported(path, m, "batch norm without running statistics (track_running_stats=False)")
    c = m.num_features
    # affine=False has neither weight nor bias; affine with bias=False (torch 2.13) has a weight, no bias.
    weight = _np(m.weight) if m.weight is not None else np.ones(c)
    bias = _np(m.bias) if m.bias is not None else np.zeros(c)
    axis = len(inp) - 1 if isinstance(m, TokenBatchNorm) else 0
    return n.BatchNorm(mean=_np(m.running_mean), var=_np(m.running_var), weight=weight, bias=bias, eps=m.eps,
                       axis=axis)


def _pool_args(m: nn.MaxPool2d | nn.AvgPool2d, path: str) -> dict:
    if m.ceil_mode:
        raise _unsupported(path, m, "ceil_mode=True is not supported")
    return {"kernel_size": m.kernel_size, "stride": m.stride or m.kernel_size, "padding": m.padding}


def _maxpool(m: nn.MaxPool2d, inp: Shape, out: Shape, path: str) -> Node:
    if m.dilation not in (1, (1, 1)) or m.return_indices:
        raise _unsupported(path, m, "dilated max-pooling and return_indices are not supported")
    return n.MaxPool2d(**_pool_args(m, path))


def _avgpool(m: nn.AvgPool2d, inp: Shape, out: Shape, path: str) -> Node:
    if not m.count_include_pad or m.divisor_override is not None:
        raise _unsupported(path, m, "only count_include_pad=True without divisor_override is supported")
    return n.AvgPool2d(**_pool_args(m, path))


def _adaptive_avgpool(m: nn.AdaptiveAvgPool2d, inp: Shape, out: Shape, path: str) -> Node:
    """A fixed window where the output size divides the input size (``AdaptiveAvgPool2d(1)``: global average)."""
    if len(inp) != 3 or any(i % o for i, o in zip(inp[1:], out[1:], strict=True)):
        raise _unsupported(path, m, f"output size {list(out[1:])} does not divide the input {list(inp[1:])}: not a "
                                    "fixed pooling window")
    k = (inp[1] // out[1], inp[2] // out[2])
    return n.AvgPool2d(kernel_size=k, stride=k, padding=(0, 0))


def _flatten(m: nn.Flatten, inp: Shape, out: Shape, path: str) -> Node:
    if m.start_dim == 0:
        raise _unsupported(path, m, "flattening the batch axis (start_dim=0) is not supported")
    return n.Flatten(start_dim=m.start_dim - 1 if m.start_dim > 0 else m.start_dim,
                     end_dim=m.end_dim - 1 if m.end_dim > 0 else m.end_dim)


def _lif(m: LIF, inp: Shape, out: Shape, path: str) -> Node:
    if m.v_reset != 0.0:
        raise _unsupported(path, m, "only v_reset = 0 is supported for snncompile.nn.LIF")
    return n.LIF(tau=np.asarray(m.tau), r=np.asarray(1.0), v_leak=np.asarray(0.0),
                 v_threshold=np.asarray(m.v_threshold), v_reset=np.asarray(0.0), fire=">=", reset="hard")


def _attention(m: AttentionCore, inp: Shape, out: Shape, path: str) -> Node:
    return n.SpikingSelfAttention(heads=m.heads, scale=float(m.scale))


MODULES: dict[type[nn.Module], Converter] = {
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.Linear: _linear,
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    TokenBatchNorm: _batchnorm,
    nn.MaxPool2d: _maxpool,
    nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool2d: _adaptive_avgpool,
    nn.Flatten: _flatten,
    LIF: _lif,
    AttentionCore: _attention,
    **fwformer_modules.FAMILY_MODULES,
    **qkformer_modules.FAMILY_MODULES,
    **spikingresformer_modules.FAMILY_MODULES,
    **atsnn_modules.FAMILY_MODULES,
    **spikingjelly_modules.FAMILY_MODULES,
}
PASS_THROUGH: tuple[type[nn.Module], ...] = (nn.Identity, nn.Dropout)
LEAVES: tuple[type[nn.Module], ...] = tuple(MODULES) + PASS_THROUGH
# Modules that keep state between steps (each has reset()); the tracer saves and restores their state.
STATEFUL: tuple[type[nn.Module], ...] = (LIF, *atsnn_modules.STATEFUL_MODULES, *spikingjelly_modules.STATEFUL_MODULES)


def converter_for(module: nn.Module) -> Converter | None:
    """The converter of the module's class or of its nearest registered base class (e.g. a library's Conv2d
    subclass converts as nn.Conv2d)."""
    return next((MODULES[c] for c in type(module).__mro__ if c in MODULES), None)


def supported_modules() -> str:
    return ", ".join(sorted(t.__name__ for t in LEAVES))
