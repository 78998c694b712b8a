"""Fixed-point nodes: the integer arithmetic of Loihi as lava-nc 0.10.0's bit-accurate CPU models compute it.

These are what the ``quantize`` pass produces and what the Lava target maps one-to-one onto lava-nc processes
(``Dense``, ``Conv``, ``LIF`` with ``Loihi2SimCfg(select_tag='fixed_pt')``). Every value on their edges is an
integer: spikes are 0/1 (or integer payloads for graded spikes), synaptic outputs are integer activations. The
reference simulator evaluates them exactly (integer arithmetic in int64), per step like every other node: a synapse
here delivers in the same step; the one-step latency each Lava synapse process adds is the target's business
(delay balancing), not part of these semantics.

``shift(a, e)`` below is ``a << e`` for ``e >= 0`` and the arithmetic (flooring) ``a >> -e`` for ``e < 0``;
``wrap32`` / ``wrap24`` reduce an integer to 32 / 24 bits signed (two's complement), as numpy's int32 arithmetic
and Lava's ``signed_clamp`` do. The wraps never act inside the ranges the ``quantize`` pass guarantees; they are
written so that the simulator stays bit-exact with Lava's CPU models outside them too (docs/fixed-point.md).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir.node import Node, broadcastable, require, single
from snncompile.ir.nodes.synapses import Conv2d
from snncompile.ir.types import Kind, TensorType

WEIGHT_RANGE = (-254, 254)
"""Weights that Lava's Dense keeps unchanged in every sign mode (``utils/weightutils.py``): even integers, because
mixed-sign matrices drop the lowest bit, and not -256, which an all-negative matrix (inhibitory mode) clips to -255."""
WEIGHT_EXP_RANGE = (-8, 7)
DECAY_RANGE = (0, 4095)  # du, dv: unsigned 12 bit
BIAS_MANT_RANGE = (-4096, 4095)  # signed 13 bit
BIAS_EXP_RANGE = (0, 7)  # unsigned 3 bit
VTH_RANGE = (0, 131071)  # unsigned 17 bit


def _integers_in(node_name: str, field: str, values: np.ndarray, bounds: tuple[int, int], why: str = "") -> None:
    lo, hi = bounds
    require(bool(np.all(values == np.round(values))), node_name, f"{field} must hold integers")
    require(bool(np.all((values >= lo) & (values <= hi))), node_name,
            f"{field} must lie in [{lo}, {hi}]{why}, got [{values.min():g}, {values.max():g}]")


def _check_weights(node: LoihiDense | LoihiConv2d, name: str) -> None:
    _integers_in(name, "weight", node.weight, WEIGHT_RANGE, " (8-bit mixed-sign weights)")
    require(bool(np.all(node.weight % 2 == 0)), name, "weight must be even (Lava drops the lowest bit in mixed mode)")
    require(WEIGHT_EXP_RANGE[0] <= node.weight_exp <= WEIGHT_EXP_RANGE[1], name,
            f"weight_exp must lie in {list(WEIGHT_EXP_RANGE)}, got {node.weight_exp}")
    require(node.message_bits >= 0, name, f"message_bits must be >= 0, got {node.message_bits}")


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LoihiDense(Node):
    """``y = wrap32(shift(A, weight_exp))`` over the last axis; W is ``[out, in]`` integers (lava-nc
    ``PyDenseModelBitAcc``).

    ``message_bits = 0``: every non-zero input is a spike (Lava reads ``s_in.astype(bool)``) and ``A`` sums the
    columns of W of the spiking inputs; ``message_bits > 0``: x carries integer payloads (graded spikes) and
    ``A = wrap32(W @ x)`` (Lava's int32 product)."""

    op = "LoihiDense"
    events = True
    arrays = ("weight",)
    weight: np.ndarray
    weight_exp: int = 0
    message_bits: int = 0

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        _check_weights(self, name)
        require(self.weight.ndim == 2, name, f"weight must be 2-D [out, in], got {self.weight.shape}")
        require(t.shape[-1:] == self.weight.shape[1:], name,
                f"input {t} does not match weight [out, in] = {list(self.weight.shape)}")
        return TensorType(t.shape[:-1] + self.weight.shape[:1], Kind.REAL)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LoihiConv2d(Node):
    """``y = wrap24(conv(x, W))`` (lava-nc ``PyConvModelFixed``): the cross-correlation of ``Conv2d`` (torch's,
    input ``[C, H, W]``, weight ``[C_out, C/groups, kH, kW]``, zero padding, no bias) with integer weights; the
    input is read as by ``LoihiDense`` (spikes, or integer payloads when ``message_bits > 0``).

    ``weight_exp`` must be 0: Lava's Conv model does not apply a weight exponent. Lava evaluates the sum in float32,
    which is exact while every partial sum stays within 2**24 in magnitude; the ``quantize`` pass keeps
    ``sum |W| * max|x|`` below 2**23 for every output."""

    op = "LoihiConv2d"
    events = True
    arrays = ("weight",)
    weight: np.ndarray
    weight_exp: int = 0
    message_bits: int = 0
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        _check_weights(self, name)
        require(self.weight_exp == 0, name, f"weight_exp must be 0 (Lava's Conv applies none), got {self.weight_exp}")
        as_conv = Conv2d(weight=self.weight, bias=np.zeros(self.weight.shape[:1]), stride=self.stride,
                         padding=self.padding, dilation=self.dilation, groups=self.groups)
        return as_conv.output_type(inputs, name)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LoihiLIF(Node):
    """Loihi's CUBA LIF neuron (lava-nc ``PyLifModelBitAcc``), per neuron per step, x the integer input::

        u = wrap32(sign(u * (4096 - du - 1)) * (|u * (4096 - du - 1)| >> 12) + (x << 6))
        u > 2**23 -> u - 2**24;  u <= -2**23 -> u + 2**24          (one wrap step toward 24 bits, as Lava)
        v = wrap32(sign(v * (4096 - dv)) * (|v * (4096 - dv)| >> 12) + u + (bias_mant << bias_exp))
        v = clip(v, -2**23 + 1, 2**23 - 1)
        s = v > (vth << 6);  v = 0 where s;  output s

    ``du``, ``dv``, ``vth`` are one number per node (Lava's LIF takes scalars); the bias is per neuron.
    Initial state u = v = 0. ``du = 4095`` keeps no current from step to step (u = x << 6); ``vth = 0`` fires on any
    positive v. The input x is the integer sum of the synapse outputs. Lava declares that port int16, but its CPU
    model adds what arrives to int16 zeros, which numpy promotes to the senders' int32: nothing is cut at 16 bits on
    Lava's CPU backend. Loihi's dendritic input is 16 bits, so ``quantize`` reports layers whose input can leave
    [-2**15, 2**15 - 1], and ``input_overflow`` (snncompile.sim.fixed_point) counts where simulated activity does."""

    op = "LoihiLIF"
    stateful = True
    arrays = ("du", "dv", "vth", "bias_mant", "bias_exp")
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        for field in ("du", "dv", "vth"):
            require(getattr(self, field).ndim == 0, name, f"{field} must be one number per layer (as in Lava's LIF)")
        for field, bounds in (("du", DECAY_RANGE), ("dv", DECAY_RANGE), ("vth", VTH_RANGE),
                              ("bias_mant", BIAS_MANT_RANGE), ("bias_exp", BIAS_EXP_RANGE)):
            value = getattr(self, field)
            require(broadcastable(value, t.shape), name, f"{field} of shape {value.shape} does not broadcast to {t}")
            _integers_in(name, field, value, bounds)
        return TensorType(t.shape, Kind.BINARY)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LoihiEncode(Node):
    """Real-valued input as integer graded spikes, computed on the host before the chip:
    ``y = clip(rint(x * scale), -limit, limit)`` element-wise (``rint`` rounds half to even, as numpy and torch do).

    The ``quantize`` pass puts one before each synapse that reads the graph's real-valued input, with the synapse's
    weights divided by ``scale`` (docs/fixed-point.md, "Real-valued input"); the Lava target feeds ``y`` as the
    payloads of its input process."""

    op = "LoihiEncode"
    scale: float
    limit: int

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        require(np.isfinite(self.scale) and self.scale > 0, name, f"scale must be positive, got {self.scale}")
        require(self.limit >= 1, name, f"limit must be >= 1, got {self.limit}")
        return TensorType(single(inputs).shape, Kind.GRADED)
