"""Kernels of the fixed-point Loihi nodes (equations: snncompile.ir.nodes.loihi) in exact integer arithmetic.

Every value is computed in int64 whatever the simulator's dtype, and narrowed to 32 or 24 bits exactly where
lava-nc's bit-accurate models narrow it. Synapse outputs are int64 tensors (exact integers at any size); LoihiLIF
gives its spikes in the simulator's dtype (0 or 1, exact in any float), so float nodes downstream read them like any
other spikes, and keeps ``(u, v)`` as int64 state (a probe reads v).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from snncompile.errors import SnnError
from snncompile.ir.nodes.loihi import LoihiConv2d, LoihiDense, LoihiEncode, LoihiLIF
from snncompile.sim.kernels.registry import Step, kernel

EXACT_FLOAT64 = 2**53  # integers of smaller magnitude add exactly in float64


def wrap(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``x`` reduced to ``bits`` bits signed (two's complement), as fixed-width integer arithmetic wraps."""
    half = 2 ** (bits - 1)
    return torch.remainder(x + half, 2 * half) - half


def shift(x: torch.Tensor, e: int) -> torch.Tensor:
    """``x << e`` for ``e >= 0``, the flooring ``x >> -e`` for ``e < 0``."""
    return x << e if e >= 0 else x >> -e


def _payloads(node: LoihiDense | LoihiConv2d, x: torch.Tensor) -> torch.Tensor:
    """The synapse's input as int64: 1 for every non-zero value (binary), else the integer payloads themselves."""
    if node.message_bits == 0:
        return (x != 0).to(torch.int64)
    if x.is_floating_point() and not bool((x == x.round()).all()):
        raise SnnError(f"{node.op} with graded spikes (message_bits = {node.message_bits}) takes integer payloads, "
                       f"got {float(x[x != x.round()].flatten()[0]):g}; feed real data through the graph's input "
                       "scale (docs/fixed-point.md)")
    return x.to(torch.int64)


def _decay(x: torch.Tensor, keep: int) -> torch.Tensor:
    """``sign(x * keep) * (|x * keep| >> 12)``: Loihi's decay, rounding toward zero."""
    p = x * keep
    return torch.sign(p) * (p.abs() >> 12)


@kernel(LoihiDense)
def _dense(node: LoihiDense, p: Any, dt: float) -> Step:
    weight_t = torch.as_tensor(node.weight.astype(np.int64).T.copy())

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        a = _payloads(node, x["input"]) @ weight_t
        if node.message_bits > 0:
            a = wrap(a, 32)
        return wrap(shift(a, node.weight_exp), 32), None
    return step


@kernel(LoihiConv2d)
def _conv(node: LoihiConv2d, p: Any, dt: float) -> Step:
    weight = torch.tensor(node.weight, dtype=torch.float64)
    reach = float(np.abs(node.weight).reshape(len(node.weight), -1).sum(1).max())  # largest sum of |W| per output

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        s = _payloads(node, x["input"])
        largest = int(s.abs().max()) if s.numel() else 0
        if reach * largest >= EXACT_FLOAT64:
            raise SnnError(f"{node.op}: payloads up to {largest} make sums beyond 2**53, which the simulator cannot "
                           "add exactly")
        y = F.conv2d(s.to(torch.float64), weight, None, node.stride, node.padding, node.dilation, node.groups)
        return wrap(y.to(torch.int64), 24), None
    return step


@kernel(LoihiLIF)
def _lif(node: LoihiLIF, p: Any, dt: float) -> Step:
    keep_u, keep_v = 4096 - int(node.du) - 1, 4096 - int(node.dv)
    threshold = int(node.vth) << 6
    bias = torch.as_tensor(node.bias_mant.astype(np.int64)) << torch.as_tensor(node.bias_exp.astype(np.int64))
    dtype = p("vth").dtype

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        xin = x["input"]
        if xin.is_floating_point() and not bool((xin == xin.round()).all()):
            raise SnnError(f"LoihiLIF takes integer input (synapse activations), got "
                           f"{float(xin[xin != xin.round()].flatten()[0]):g}")
        a = xin.to(torch.int64) << 6  # the int32 wraps of Lava's sum and shift: one wrap of u (modular arithmetic)
        u, v = (torch.zeros_like(a), torch.zeros_like(a)) if state is None else state
        u = wrap(_decay(u, keep_u) + a, 32)
        u = torch.where(u > 2**23, u - 2**24, u)
        u = torch.where(u <= -(2**23), u + 2**24, u)
        v = wrap(_decay(v, keep_v) + u + bias, 32).clamp(-(2**23) + 1, 2**23 - 1)
        s = v > threshold
        return s.to(dtype), (u, torch.where(s, 0, v))
    return step


@kernel(LoihiEncode)
def _encode(node: LoihiEncode, p: Any, dt: float) -> Step:
    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        y = torch.round(x["input"].to(torch.float64) * node.scale).clamp(-node.limit, node.limit)
        return y.to(torch.int64), None
    return step
