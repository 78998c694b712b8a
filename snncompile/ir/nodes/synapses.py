"""Synapse nodes: fixed weights applied to whatever arrives on the port (no state).

The output kind is real: a synapse turns spikes into currents. Affine and Linear act on the last axis and broadcast
over the leading ones (a token-wise linear layer on a ``[N, D]`` stream); on a vector this is NIR's definition.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir.node import Node, broadcastable, require, single, window_args
from snncompile.ir.types import Kind, TensorType


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    """An int or a 1- or 2-tuple as (height, width); ValueError for any other length."""
    if isinstance(v, int):
        return (v, v)
    if len(v) not in (1, 2):
        raise ValueError(f"expected one or two values (height, width), got {tuple(v)}")
    return (int(v[0]), int(v[-1]))


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _matrix_output(t: TensorType, weight: np.ndarray, name: str) -> TensorType:
    require(weight.ndim == 2, name, f"weight must be 2-D [out, in], got {weight.shape}")
    require(t.shape[-1:] == weight.shape[1:], name, f"input {t} does not match weight [out, in] = {list(weight.shape)}")
    return TensorType(t.shape[:-1] + weight.shape[:1], Kind.REAL)


def _conv_output(node: Conv1d | Conv2d, t: TensorType, stride: tuple[int, ...], padding: tuple[int, ...],
                 dilation: tuple[int, ...], name: str) -> TensorType:
    """Output type of an N-d convolution: input ``[C, *spatial]``, weight ``[O, C/groups, *kernel]``."""
    w, axes = node.weight, len(stride)
    window_args(name, positive={"stride": stride, "dilation": dilation, "groups": node.groups},
                nonnegative={"padding": padding})
    require(w.ndim == axes + 2 and len(t.shape) == axes + 1, name,
            f"needs a {axes + 2}-D weight [O, I, *kernel] and input [C, *spatial] of {axes + 1} axes, got {t}")
    require(t.shape[0] == w.shape[1] * node.groups, name,
            f"input channels {t.shape[0]} != weight in-channels {w.shape[1]} x groups {node.groups}")
    require(w.shape[0] % node.groups == 0, name, "out channels must divide by groups")
    require(node.bias.shape == (w.shape[0],), name, "bias must have shape [out channels]")
    spatial = tuple(conv_out(t.shape[1 + a], w.shape[2 + a], stride[a], padding[a], dilation[a]) for a in range(axes))
    require(min(spatial) > 0, name, f"output would be empty for input {t}")
    return TensorType((w.shape[0],) + spatial, Kind.REAL)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Affine(Node):
    """``y = x @ W^T + b`` over the last axis; W is ``[out, in]``."""

    op = "Affine"
    events = True
    primitive = True
    arrays = ("weight", "bias")
    weight: np.ndarray
    bias: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        require(self.bias.shape == self.weight.shape[:1], name, "bias must have shape [out]")
        return _matrix_output(single(inputs), self.weight, name)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Linear(Node):
    """``y = x @ W^T`` over the last axis; W is ``[out, in]``."""

    op = "Linear"
    events = True
    primitive = True
    arrays = ("weight",)
    weight: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return _matrix_output(single(inputs), self.weight, name)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Conv2d(Node):
    """2-D cross-correlation as torch computes it: input ``[C, H, W]``, weight ``[C_out, C/groups, kH, kW]``,
    zero padding, ``y[o] = b[o] + sum_{c,i,j} W[o,c,i,j] x[g(o)*C/groups + c, s*y + d*i - p, s*x + d*j - p]``."""

    op = "Conv2d"
    events = True
    primitive = True
    arrays = ("weight", "bias")
    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("stride", "padding", "dilation"):
            object.__setattr__(self, f, _pair(getattr(self, f)))

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return _conv_output(self, single(inputs), self.stride, self.padding, self.dilation, name)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Conv1d(Node):
    """1-D cross-correlation: input ``[C, L]``, weight ``[C_out, C/groups, k]``, zero padding."""

    op = "Conv1d"
    events = True
    primitive = True
    arrays = ("weight", "bias")
    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return _conv_output(self, single(inputs), (self.stride,), (self.padding,), (self.dilation,), name)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Scale(Node):
    """``y = s * x`` element-wise (s broadcast to the input shape)."""

    op = "Scale"
    primitive = True
    arrays = ("scale",)
    scale: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(broadcastable(self.scale, t.shape), name, f"scale {self.scale.shape} does not broadcast to {t}")
        return TensorType(t.shape, Kind.REAL)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class BatchNorm(Node):
    """Inference-mode batch norm along ``axis`` (of the per-sample shape):
    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. Folded into the preceding synapse by fold-batchnorm."""

    op = "BatchNorm"
    arrays = ("mean", "var", "weight", "bias")
    mean: np.ndarray
    var: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    eps: float = 1e-5
    axis: int = 0

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(-len(t.shape) <= self.axis < len(t.shape), name, f"axis {self.axis} out of range for {t}")
        n = t.shape[self.axis]
        for f in ("mean", "var", "weight", "bias"):
            require(getattr(self, f).shape == (n,), name, f"{f} must have shape [{n}]")
        require(bool((self.var + self.eps > 0).all()), name, "var + eps must be positive (its square root divides)")
        return TensorType(t.shape, Kind.REAL)

    def channel_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, c) with ``y = a * x + c`` per channel."""
        a = self.weight / np.sqrt(self.var + self.eps)
        return a, self.bias - self.mean * a
