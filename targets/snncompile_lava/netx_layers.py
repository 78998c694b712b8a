"""One netx layer <-> the fixed-point IR nodes it stands for (docs/netx.md). No file I/O here.

A layer is a dict of the datasets lava-dl's ``netx.hdf5.Network`` (0.6.0) reads from ``/layer/<i>``: ``type``,
``shape`` (torch order), ``weight``, ``weight_rec``, ``bias``, ``stride``/``padding``/``dilation`` (torch order,
(H, W)), ``groups`` and a ``neuron`` dict (``type`` CUBA, ``iDecay``, ``vDecay``, ``vThMant``, ``refDelay``,
``gradedSpike``). What the reader does with them, and so what the mapping must respect:

* a dense layer's integer weights go through netx's ``optimize_weight_bits`` and Lava's Dense clipping and truncation;
  ``dense_weight_problem`` replays that arithmetic and names the weights it would not keep exactly. netx has no
  per-layer weight exponent: ``weight * 2**weight_exp`` is stored, which must be integers.
* conv weights reach Lava's Conv unchanged (its fixed-point model applies no exponent and no clipping).
* the neuron gets ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``, ``bias_mant = bias``, ``bias_exp = 6``.

``*_layer`` build a layer from nodes (UnsupportedError with the reason where netx cannot say it); ``*_nodes`` build
the canonical nodes of a layer: weights as stored with ``weight_exp = 0`` (``2 * w`` with ``weight_exp = -1`` where a
weight is odd, since the IR keeps Lava's even mixed-mode weights), ``bias_exp = 6``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from snncompile.errors import UnsupportedError
from snncompile.ir.node import Node
from snncompile.ir.nodes import Flatten, Input, LoihiConv2d, LoihiDense, LoihiLIF, Previous
from snncompile.ir.nodes.loihi import BIAS_MANT_RANGE
from snncompile.ir.types import Kind, TensorType

BIAS_EXP = 6  # netx 0.6.0 passes bias_exp = 6 to every LIF
REF_DELAY = 1  # what SLAYER writes; netx and Lava's LIF have no refractory period
KINDS = ("input", "flatten", "dense", "dense_rec", "conv")
ROLES = {"input": ("input",), "flatten": ("flatten",), "dense": ("synapse", "neuron"), "conv": ("synapse", "neuron"),
         "dense_rec": ("synapse", "neuron", "recurrent", "previous")}
"""The IR nodes of each layer kind, in the order ``/snncompile/layer_nodes`` lists their names."""


# -- nodes -> layer ----------------------------------------------------------------------------------------------
def input_layer(node: Input) -> dict[str, Any]:
    return {"type": "input", "shape": np.array(node.type.shape, np.int64)}


def flatten_layer(out: TensorType) -> dict[str, Any]:
    return {"type": "flatten", "shape": np.array(out.shape, np.int64)}


def dense_layer(names: tuple[str, ...], syn: LoihiDense, lif: LoihiLIF, rec: LoihiDense | None = None
                ) -> dict[str, Any]:
    weight = _folded(names[0], syn)
    layer = {"type": "dense" if rec is None else "dense_rec", "shape": np.array(weight.shape[:1], np.int64),
             "weight": weight}
    if rec is not None:
        layer["weight_rec"] = _folded(names[2], rec)
    joint = np.hstack([layer["weight"], layer.get("weight_rec", np.zeros((len(weight), 0), np.int16))])
    problem = dense_weight_problem(joint)
    if problem:
        raise UnsupportedError(f"node '{names[0]}': {problem}")
    return _with_neuron(layer, names[1], lif, weight.shape[:1], conv=False)


def conv_layer(names: tuple[str, ...], syn: LoihiConv2d, lif: LoihiLIF, out: TensorType) -> dict[str, Any]:
    weight = _folded(names[0], syn)
    layer = {"type": "conv", "shape": np.array(out.shape, np.int64), "weight": weight,
             "stride": np.array(syn.stride, np.int64), "padding": np.array(syn.padding, np.int64),
             "dilation": np.array(syn.dilation, np.int64), "groups": np.int64(syn.groups)}
    return _with_neuron(layer, names[1], lif, out.shape, conv=True)


def _folded(name: str, syn: LoihiDense | LoihiConv2d) -> np.ndarray:
    if syn.message_bits:
        raise UnsupportedError(f"node '{name}': graded input (message_bits = {syn.message_bits}); netx 0.6.0 "
                               "cannot read messageBits, so its layers take binary spikes only")
    scaled = syn.weight * 2.0**syn.weight_exp  # exact: small integers times a power of two
    if not np.array_equal(scaled, np.round(scaled)):
        raise UnsupportedError(f"node '{name}': weight * 2**weight_exp (weight_exp = {syn.weight_exp}) is not an "
                               "integer for every weight, and netx 0.6.0 stores no weight exponent")
    lo, hi = int(scaled.min()), int(scaled.max())
    if lo < -256 or hi > 255:
        raise UnsupportedError(f"node '{name}': weight * 2**weight_exp (weight_exp = {syn.weight_exp}) spans "
                               f"[{lo}, {hi}], beyond Loihi's 8-bit weights [-256, 255], and netx 0.6.0 stores no "
                               "weight exponent")
    return scaled.astype(np.int16)


def _with_neuron(layer: dict[str, Any], name: str, lif: LoihiLIF, shape: tuple[int, ...], conv: bool
                 ) -> dict[str, Any]:
    effective = np.broadcast_to(lif.bias_mant * 2.0**lif.bias_exp, shape)
    if np.any(effective % 2**BIAS_EXP):
        raise UnsupportedError(f"node '{name}': bias_mant * 2**bias_exp is not a multiple of 64 for every neuron; "
                               f"netx 0.6.0 fixes bias_exp = {BIAS_EXP}")
    bias = (effective // 2**BIAS_EXP).astype(np.int32)
    lo, hi = BIAS_MANT_RANGE
    if bias.size and (bias.min() < lo or bias.max() > hi):
        raise UnsupportedError(f"node '{name}': bias_mant * 2**bias_exp / 64 spans [{bias.min()}, {bias.max()}], "
                               f"beyond the 13-bit bias mantissa [{lo}, {hi}] (netx fixes bias_exp = {BIAS_EXP})")
    if bias.any():
        if not conv:
            layer["bias"] = bias
        elif np.array_equal(bias, np.broadcast_to(bias[:, :1, :1], bias.shape)):
            layer["bias"] = np.ascontiguousarray(bias[:, 0, 0])  # one per channel, as SLAYER writes it
        else:
            layer["bias"] = np.ascontiguousarray(bias.transpose(2, 1, 0))  # netx reads per-neuron bias as (W, H, C)
    layer["neuron"] = {"type": "CUBA", "iDecay": np.int64(lif.du + 1), "vDecay": np.int64(lif.dv),
                       "vThMant": np.int64(lif.vth), "refDelay": np.int64(REF_DELAY), "gradedSpike": np.bool_(False)}
    return layer


def dense_weight_problem(weight: np.ndarray) -> str:
    """Why netx 0.6.0 + Lava's bit-accurate Dense would not compute ``weight @ spikes`` exactly ("" if they would).

    netx picks a sign mode (inhibitory if every weight < 0, excitatory if every weight >= 0, else mixed), clips mixed
    weights to [-256, 254], shifts them left by ``s`` bits to fill 8 bits and sets ``weight_exp = -s`` and a bit
    count from the common trailing zero bits; Lava's Dense picks its own sign mode (inhibitory already when every
    weight <= 0), clips to 8 bits, truncates to that bit count and shifts each sum right by ``s``."""
    w = np.asarray(weight, np.int64)
    lo, hi = int(w.min()), int(w.max())
    span = f"weights span [{lo}, {hi}]"
    if lo == hi == 0:
        return "every weight is zero, which netx 0.6.0 fails to load (log2 of an infinite scale)"
    mixed = lo < 0 <= hi
    if (mixed and (hi > 254 or lo < -256)) or lo < -256 or hi > 255:
        return f"{span}, beyond the 8-bit weights netx takes ([-256, 254] for mixed signs)"
    positive = 127 / hi if hi > 0 else math.inf
    scale = min(positive, -128 / lo) if mixed else 255 / hi if lo >= 0 else -256 / lo
    shift = math.floor(math.log2(scale)) + mixed
    zeros = next((n for n in range(8, 0, -1) if not np.any(w % 2**n)), 0) - mixed
    bits = 8 - shift - zeros
    shifted = w << shift
    lava_mixed = shifted.min() < 0 < shifted.max()
    negate = not lava_mixed and shifted.max() <= 0 and shifted.min() < 0
    drop = 8 - bits + lava_mixed
    magnitude = np.clip(-shifted if negate else shifted, -256 if lava_mixed else 0, 255)
    if drop < 0:
        return f"{span}: netx asks Lava's Dense for {bits}-bit weights, more than its 8 bits"
    kept = (magnitude >> drop) << drop
    if not np.array_equal(-kept if negate else kept, shifted):
        return (f"{span}: netx scales them by 2**{shift} to {bits}-bit weights, which Lava's Dense clips or "
                "truncates (an all non-positive matrix reaching -256)")
    return ""


# -- layer -> nodes ----------------------------------------------------------------------------------------------
def synapse_node(cls: type[LoihiDense] | type[LoihiConv2d], weight: np.ndarray, **fields: Any
                 ) -> LoihiDense | LoihiConv2d:
    """Stored integer weights as IR weights: as they are if all even, else (dense only) doubled with
    ``weight_exp = -1`` (the IR keeps even weights, as Lava's mixed-sign Dense does; ``(2w @ x) >> 1 == w @ x``)."""
    w = np.asarray(weight, np.int64)
    if np.any(w % 2) and cls is LoihiConv2d:
        raise UnsupportedError("conv weights must be even (as SLAYER's 8-bit quantization, step 2, makes them): the "
                               "IR keeps Lava's even weights, and Lava's Conv applies no weight exponent to halve "
                               "doubled ones")
    if np.any(w % 2):
        return cls(weight=2 * w, weight_exp=-1, **fields)
    return cls(weight=w, weight_exp=0, **fields)


def conv_fields(layer: dict[str, Any]) -> dict[str, Any]:
    """``stride``, ``padding``, ``dilation`` (one number or (H, W)) and ``groups`` of a conv layer as IR fields."""
    def pair(key: str, default: int) -> tuple[int, int]:
        value = np.ravel(layer.get(key, default)).astype(np.int64)
        if value.size not in (1, 2):
            raise ValueError(f"'{key}' must hold 1 or 2 numbers, found {value.size}")
        return (int(value[0]), int(value[-1]))

    groups = np.ravel(layer.get("groups", 1))
    if groups.size != 1:
        raise ValueError(f"'groups' must be one number, found {groups.size}")
    return {"stride": pair("stride", 1), "padding": pair("padding", 0), "dilation": pair("dilation", 1),
            "groups": int(groups[0])}


def lif_node(neuron: dict[str, Any], bias: np.ndarray | None, shape: tuple[int, ...]) -> LoihiLIF:
    """The LoihiLIF netx builds from a ``neuron`` dict and a stored ``bias`` (None: no bias) for neurons of ``shape``
    (torch order; a conv bias is one per channel or per neuron in netx's (W, H, C) order)."""
    params = {key: np.ravel(neuron[key]) for key in ("iDecay", "vDecay", "vThMant")}
    for key, value in params.items():
        if value.size != 1:
            raise UnsupportedError(f"neuron/{key} holds {value.size} values; Lava's LIF takes one per layer")
    du, dv, vth = (int(params[k][0]) for k in ("iDecay", "vDecay", "vThMant"))
    du -= 1
    if du < 0:
        raise UnsupportedError(f"neuron/iDecay = {du + 1} gives du = {du} (netx passes iDecay - 1), outside Loihi's "
                               "12-bit du [0, 4095]; supported: iDecay 1 ... 4096")
    mant: np.ndarray
    if bias is None:
        mant = np.zeros(())
    elif len(shape) == 1 or bias.shape == shape[::-1]:
        mant = bias if len(shape) == 1 else bias.transpose(2, 1, 0)
    elif bias.shape == shape[:1]:
        mant = bias.reshape(shape[0], 1, 1)
    else:
        raise ValueError(f"bias of shape {list(bias.shape)} fits neither per channel nor per neuron of {list(shape)}")
    return LoihiLIF(du=np.array(du), dv=np.array(dv), vth=np.array(vth), bias_mant=mant, bias_exp=np.array(BIAS_EXP))


def layer_nodes(layer: dict[str, Any]) -> tuple[Node, ...]:
    """The canonical IR nodes of a layer (``ROLES`` order) from its datasets, as netx 0.6.0 would run them."""
    kind = layer["type"]
    if kind == "input":
        return (Input(type=TensorType(tuple(int(s) for s in np.ravel(layer["shape"])), Kind.BINARY)),)
    if kind == "flatten":
        return (Flatten(start_dim=0, end_dim=-1),)
    weight, bias = layer["weight"], layer.get("bias")
    if kind == "conv":
        shape = tuple(int(s) for s in np.ravel(layer["shape"]))
        return synapse_node(LoihiConv2d, weight, **conv_fields(layer)), lif_node(layer["neuron"], bias, shape)
    out = weight.shape[:1]
    nodes: tuple[Node, ...] = (synapse_node(LoihiDense, weight), lif_node(layer["neuron"], bias, out))
    if kind == "dense_rec":  # neuron -> recurrent -> previous -> neuron, as an NIR file's cycle reads back
        nodes += (synapse_node(LoihiDense, layer["weight_rec"]), Previous(type=TensorType(out, Kind.REAL)))
    return nodes
