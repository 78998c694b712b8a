"""ssa-to-binary-matmul: no SpikingSelfAttention left, SpikeMatMul per head, scale folded into the attention LIF's
threshold; every spike identical in both association orders (calibrated small Spikformer, trained digits model);
a scale that cannot fold stays as a Scale node, with the reason."""

from pathlib import Path

import numpy as np
import pytest
import torch

from snncompile.errors import SnnError
from snncompile.frontend import trace
from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.nn.calibrate import calibrate_batchnorm
from snncompile.nn.spikformer import Spikformer
from snncompile.passes.registry import parse_passes
from snncompile.passes.ssa_to_binary_matmul import SsaToBinaryMatmul, choose_order, matmul_counts
from snncompile.sim import simulate
from tests.checks import assert_same_spikes
from tests.graphs import lif

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_spikformer():
    """16 tokens, 4 heads of 16 channels; BN calibrated to N(1, 1) so that the attention LIFs fire too."""
    torch.manual_seed(0)
    model = Spikformer(in_channels=3, img_size=16, dim=64, depth=2, heads=4, num_classes=10)
    x_seq = torch.rand(2, 3, 16, 16).unsqueeze(0).repeat(4, 1, 1, 1, 1)
    calibrate_batchnorm(model, x_seq, target_mean=1.0)
    return trace(model.eval(), (3, 16, 16)), x_seq.double().numpy()




def test_lowers_every_ssa_into_matmuls_with_the_scale_in_the_threshold(small_spikformer):
    graph, x = small_spikformer
    result = SsaToBinaryMatmul().run(graph)
    lowered = result.graph
    assert result.changed and result.refusals == ()
    assert not any(isinstance(node, n.SpikingSelfAttention) for node in lowered.nodes.values())
    attn = [(k[len("blocks.0.ssa.attn"):], lowered.nodes[k].op) for k in lowered.order
            if k.startswith("blocks.0.ssa.attn")]
    assert attn == [(".q.split", "Reshape"), (".k.split", "Reshape"), (".v.split", "Reshape"),
                    (".q.heads", "Transpose"), (".k.heads", "Transpose"), (".v.heads", "Transpose"),
                    (".qk", "SpikeMatMul"), (".qk_v", "SpikeMatMul"), (".merge", "Transpose"), ("", "Reshape"),
                    ("_lif", "LIF")]
    assert lowered.types["blocks.0.ssa.attn.qk"].shape == (4, 16, 16)
    assert float(lowered.nodes["blocks.0.ssa.attn_lif"].v_threshold) == 4.0  # 0.5 / 0.125
    assert_same_spikes(graph, lowered, x)


def test_the_fold_scales_leak_and_reset_too(small_spikformer):
    """Attention LIFs with v_leak = 0.25 and v_reset = 0.125 (the traced ones have 0 for both): the folded LIF gets
    0.25 / 0.125 = 2 and 0.125 / 0.125 = 1, and every spike stays the same."""
    graph, x = small_spikformer
    lifs = [k for k in graph.nodes if k.endswith("ssa.attn_lif")]
    leaky = graph.replace(nodes={**graph.nodes, **{k: graph.nodes[k].replace(v_leak=np.asarray(0.25),
                                                                              v_reset=np.asarray(0.125))
                                                   for k in lifs}})
    lowered = SsaToBinaryMatmul().run(leaky).graph
    node = lowered.nodes["blocks.0.ssa.attn_lif"]
    assert (float(node.v_leak), float(node.v_reset), float(node.v_threshold)) == (2.0, 1.0, 4.0)
    assert_same_spikes(leaky, lowered, x)


@pytest.mark.parametrize("order", ["qk-first", "kv-first"])
def test_both_association_orders_give_identical_spikes(small_spikformer, order):
    graph, x = small_spikformer
    lowered = SsaToBinaryMatmul(order=order).run(graph).graph
    first = {"qk-first": ("qk", (4, 16, 16), False, True), "kv-first": ("kv", (4, 16, 16), True, False)}[order]
    mm = lowered.nodes[f"blocks.1.ssa.attn.{first[0]}"]
    assert lowered.types[f"blocks.1.ssa.attn.{first[0]}"].shape == first[1]
    assert (mm.transpose_a, mm.transpose_b) == first[2:]
    assert_same_spikes(graph, lowered, x)


def test_trained_digits_model_identical_on_real_digits():
    from snncompile.frontend.checkpoint import load_model
    from snncompile.nn.data import load_digits_split

    model, meta = load_model(ROOT / "examples" / "spikformer_digits.pt")
    graph = trace(model, model.input_shape)
    x_test = load_digits_split()[2][:32]
    x = x_test.unsqueeze(0).repeat(meta["T"], 1, 1, 1, 1).double().numpy()
    for order in ("qk-first", "kv-first"):
        assert_same_spikes(graph, SsaToBinaryMatmul(order=order).run(graph).graph, x)


def test_operation_counts_choose_the_cheaper_order():
    assert matmul_counts(196, 64) == {"qk-first": 2 * 196 * 196 * 64, "kv-first": 2 * 196 * 64 * 64}
    assert choose_order(196, 64) == choose_order(64, 32) == "kv-first"
    assert choose_order(16, 16) == "qk-first" and choose_order(16, 64) == "qk-first"
    assert choose_order(196, 64, "qk-first") == "qk-first"


def attention_graph(scale: float, extra_consumer: bool) -> Graph:
    """q, k, v = LIF(input); SSA(2 heads) -> attention LIF; optionally the SSA also feeds the output directly."""
    rng = np.random.default_rng(0)
    nodes = {"in": n.Input(type=TensorType((6, 4))), "q": lif(0.6), "k": lif(0.5), "v": lif(0.4),
             "ssa": n.SpikingSelfAttention(heads=2, scale=scale), "attn_lif": lif(0.5), "out": n.Output()}
    edges = [Edge("in", p) for p in "qkv"] + [Edge(p, "ssa", p) for p in "qkv"]
    edges += [Edge("ssa", "attn_lif"), Edge("attn_lif", "out")]
    if extra_consumer:
        nodes["out2"] = n.Output()
        edges.append(Edge("ssa", "out2"))
    graph = Graph(nodes, edges)
    x = rng.uniform(0, 2.5, (4, 3, 6, 4))
    return graph, x


def test_refuses_to_fold_a_non_power_of_two_scale_feeding_two_consumers():
    graph, x = attention_graph(scale=0.3, extra_consumer=True)
    result = SsaToBinaryMatmul().run(graph)
    lowered = result.graph
    assert [str(r) for r in result.refusals] == [
        "ssa-to-binary-matmul: ssa: scale kept as a Scale node: scale 0.3 is not a positive power of two: "
        "dividing the LIF's threshold by it would round"]
    assert lowered.nodes["ssa"].op == "Scale" and lowered.nodes["ssa.concat"].op == "Reshape"
    assert lowered.nodes["attn_lif"] == graph.nodes["attn_lif"]
    spiking = ["q", "k", "v", "attn_lif"]
    before, after = simulate(graph, x, trace=spiking), simulate(lowered, x, trace=spiking)
    for layer in spiking:
        assert before.traces[layer].mean() > 0.01 and np.array_equal(before.traces[layer], after.traces[layer])
    assert all(np.array_equal(before.outputs[k], after.outputs[k]) for k in ("out", "out2"))


def test_power_of_two_scale_with_two_consumers_keeps_scale():
    graph, _ = attention_graph(scale=0.25, extra_consumer=True)
    result = SsaToBinaryMatmul().run(graph)
    assert [r.reason for r in result.refusals] == \
        ["scale kept as a Scale node: output feeds 2 nodes, not exactly one LIF"]
    unfolded = SsaToBinaryMatmul(fold_scale=False).run(attention_graph(0.25, False)[0])
    assert unfolded.refusals == () and unfolded.graph.nodes["ssa"].op == "Scale"


def test_bad_order_option_is_one_line():
    with pytest.raises(SnnError, match="'order': 'fastest' is not one of auto, qk-first, kv-first"):
        parse_passes("ssa-to-binary-matmul{order=fastest}")
    assert parse_passes("ssa-to-binary-matmul{order=kv-first}")[0] == SsaToBinaryMatmul(order="kv-first")
