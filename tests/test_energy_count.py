"""Counts from recorded activity equal hand-computed ones on tiny graphs (dense, conv with padding, stride,
groups and a zero weight, SpikeMatMul, masks, graded input, neurons)."""

from __future__ import annotations

import numpy as np
import pytest

from snncompile.energy.count import count
from snncompile.errors import UnsupportedError
from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.sim import simulate
from tests.graphs import chain, lif


def _counts(graph: Graph, x: np.ndarray | dict[str, np.ndarray]):
    return {layer.name: layer for layer in count(graph, simulate(graph, x).activity).layers}


def test_dense_binary_input_counts_events_times_nonzero_fanout():
    w = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 0.0]])  # fan-out of inputs 0, 1, 2: 2, 1, 1
    g = chain(("fc", n.Affine(weight=w, bias=np.zeros(2))), ("lif", lif(threshold=1.5)),
              input_type=TensorType((3,), Kind.BINARY))
    x = np.array([[[1, 1, 0], [0, 0, 1]], [[1, 0, 1], [1, 1, 1]]], dtype=float)  # [T=2, B=2, 3]
    layers = _counts(g, x)
    fc = layers["fc"].values
    assert fc["input_events"] == 8 / 2  # per sample
    assert fc["synops"] == ((2 + 1) + 1 + (2 + 1) + (2 + 1 + 1)) / 2
    assert fc["dense_macs"] == 4 * 2  # 4 connections x T
    assert fc["synapses"] == 6 and fc["macs"] == fc["graded_ops"] == 0
    assert layers["fc"].synops_per_step == [(3 + 1) / 2, (3 + 4) / 2]
    lif_values = layers["lif"].values
    assert lif_values["neuron_updates"] == 2 * 2 and lif_values["neurons"] == 2
    assert lif_values["spikes"] > 0
    assert layers["lif"].firing_rate == lif_values["spikes"] / 4


def test_conv_fanout_exact_at_borders_with_stride_groups_and_a_zero_weight():
    w = np.ones((2, 1, 3, 3))
    w[0, 0, 0, 0] = 0.0  # removes the link (input (1, 1) -> output (1, 1)) of channel 0's top-left tap
    conv = n.Conv2d(weight=w, bias=np.zeros(2), stride=(2, 2), padding=(1, 1), groups=2)
    g = chain(("conv", conv), input_type=TensorType((2, 3, 3), Kind.BINARY))
    x = np.zeros((1, 1, 2, 3, 3))
    x[0, 0, 0, 1, 1] = 1  # centre of channel 0: rows and columns each reached by 2 outputs -> 4, minus 1 tap
    x[0, 0, 0, 0, 0] = 1  # corner of channel 0: 1 output
    x[0, 0, 1, 1, 1] = 1  # centre of channel 1: 4
    x[0, 0, 1, 2, 0] = 1  # bottom-left of channel 1: 1
    conv_count = _counts(g, x)["conv"].values
    assert conv_count["synops"] == 3 + 1 + 4 + 1
    assert conv_count["input_events"] == 4
    assert conv_count["dense_macs"] == 2 * (2 + 2) ** 2 - 1  # 2 valid taps per output per axis; minus the zero


def test_spike_matmul_counts_coincidences_per_sample():
    a = np.array([[1, 1, 0], [0, 1, 1]], dtype=float)
    b = np.array([[1, 0], [1, 1], [0, 1]], dtype=float)
    g = Graph({"a": n.Input(type=TensorType((2, 3), Kind.BINARY)), "b": n.Input(type=TensorType((3, 2), Kind.BINARY)),
               "mm": n.SpikeMatMul(), "out": n.Output()},
              [Edge("a", "mm", "a"), Edge("b", "mm", "b"), Edge("mm", "out")])
    other = np.zeros_like(b)  # second sample: no coincidence although both operands have events
    other[0, 1] = 1
    xa = np.stack([a, np.array([[0, 1, 0], [0, 0, 0]])])[None]
    xb = np.stack([b, other])[None]
    mm = _counts(g, {"a": xa, "b": xb})["mm"].values
    assert mm["synops"] == float((a @ b).sum()) / 2 == 6 / 2
    assert mm["dense_macs"] == 2 * 2 * 3
    assert mm["input_events"] == (4 + 1) / 2  # the first operand's events (4, then 1), as its positions are
    assert _counts(g, {"a": xa, "b": xb})["mm"].input_rate == (4 + 1) / (2 * 6)


def test_spike_matmul_of_a_real_and_a_graded_operand_is_graded_with_the_counts_as_payload():
    """A real [2, 2] times counts of 3: each of the 2 x 2 x 2 = 8 coincidences is one graded op carrying 3."""
    g = Graph({"a": n.Input(type=TensorType((2, 2), Kind.REAL)), "b": n.Input(type=TensorType((2, 2), Kind.GRADED)),
               "mm": n.SpikeMatMul(), "out": n.Output()},
              [Edge("a", "mm", "a"), Edge("b", "mm", "b"), Edge("mm", "out")])
    mm = _counts(g, {"a": np.full((1, 1, 2, 2), 0.7), "b": np.full((1, 1, 2, 2), 3.0)})["mm"].values
    assert (mm["synops"], mm["graded_ops"], mm["graded_payload"]) == (0, 8, 24)


def test_graded_input_counts_events_and_payload():
    w = np.array([[1.0, 2.0], [0.0, 1.0]])  # fan-out 1 and 2
    g = chain(("fc", n.Affine(weight=w, bias=np.zeros(2))), input_type=TensorType((2,), Kind.GRADED))
    x = np.array([[[2, 0]], [[1, 3]]], dtype=float)  # T=2, B=1
    fc = _counts(g, x)["fc"].values
    assert fc["graded_ops"] == 1 * 1 + (1 * 1 + 1 * 2)
    assert fc["graded_payload"] == 2 * 1 + (1 * 1 + 3 * 2)
    assert fc["synops"] == 0


def test_real_input_counts_macs_of_nonzero_inputs():
    g = chain(("fc", n.Linear(weight=np.ones((3, 2)))), input_type=TensorType((2,), Kind.REAL))
    fc = _counts(g, np.array([[[0.5, 0.0]]]))["fc"]
    assert fc.values["macs"] == 3 and fc.values["dense_macs"] == 6 and fc.first and fc.classifier


def test_masks_count_gated_events_and_live_tokens():
    nodes = {"x": n.Input(type=TensorType((3, 2), Kind.BINARY)), "m": n.Input(type=TensorType((3,), Kind.BINARY)),
             "tm": n.TokenMask(), "sm": n.SpikeMask(), "out": n.Output()}
    nodes["mm"] = n.Input(type=TensorType((3, 1), Kind.BINARY))
    g = Graph(nodes, [Edge("x", "tm", "input"), Edge("m", "tm", "mask"), Edge("tm", "sm", "input"),
                      Edge("mm", "sm", "mask"), Edge("sm", "out")])
    x = np.array([[[1, 1], [0, 1], [1, 0]]], dtype=float)[None]
    keep = np.array([[1, 0, 1]], dtype=float)[None]
    head = np.array([[[1], [1], [0]]], dtype=float)[None]
    layers = _counts(g, {"x": x, "m": keep, "mm": head})
    assert layers["tm"].values["mask_ops"] == 4  # events arriving at the token mask
    assert layers["tm"].live_tokens == [2.0]
    assert layers["sm"].values["mask_ops"] == 3  # what passed the token mask: rows 0 and 2


def test_unlowered_attention_is_refused_with_the_node_named():
    g = Graph({"q": n.Input(type=TensorType((4, 2), Kind.BINARY)),
               "ssa": n.SpikingSelfAttention(heads=1, scale=0.5), "out": n.Output()},
              [Edge("q", "ssa", "q"), Edge("q", "ssa", "k"), Edge("q", "ssa", "v"), Edge("ssa", "out")])
    act = simulate(g, np.ones((1, 1, 4, 2))).activity
    with pytest.raises(UnsupportedError, match="'ssa'.*lower the graph first"):
        count(g, act)


def test_token_merge_counts_its_similarity_products_once():
    nodes = {"x": n.Input(type=TensorType((4, 3), Kind.REAL)), "m": n.Input(type=TensorType((4,), Kind.BINARY)),
             "tokens": n.TokenMerge(r=1), "flags": n.TokenMerge(r=1, result="flags"), "o1": n.Output(),
             "o2": n.Output()}
    g = Graph(nodes, [Edge("x", "tokens", "input"), Edge("m", "tokens", "mask"), Edge("x", "flags", "input"),
                      Edge("m", "flags", "mask"), Edge("tokens", "o1"), Edge("flags", "o2")])
    rng = np.random.default_rng(1)
    layers = _counts(g, {"x": rng.normal(size=(2, 1, 4, 3)), "m": np.ones((2, 1, 4))})
    assert layers["tokens"].values["macs"] == 2 * 2 * 3 * 2  # (N/2)^2 x D per step, T = 2
    assert layers["flags"].values["macs"] == 0
