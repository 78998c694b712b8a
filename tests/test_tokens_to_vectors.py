"""tokens-to-vectors: a conv stage, a max-pool Threshold, token-wise and token-mixing layers, Scale, BatchNorm,
residual Adds and a Mean become Conv2d/SumPool2d/LIF, one Flatten and dense Affines on flat vectors, with the same
spikes in every layer; what it cannot express is refused with the reason."""

import numpy as np
import pytest
from snncompile_nir import ACCEPTS as NIR_OPS

from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.passes.tokens_to_vectors import TokensToVectors
from snncompile.sim import simulate
from tests.graphs import chain, lif

SPIKING = ("lif1", "pool", "lif2", "lif3", "lif4")


def token_graph(rng: np.random.Generator) -> Graph:
    """conv -> LIF -> sum-pool -> Threshold -> [C, H, W] to 4 tokens x 4 channels -> token-wise MLP (Scale, LIFs)
    -> residual -> token-mixing Linear between Transposes, Scale, BatchNorm, LIF -> residual -> Mean -> head."""
    bn = n.BatchNorm(mean=rng.normal(0, 0.2, 4), var=rng.uniform(0.5, 1.5, 4), weight=rng.uniform(0.8, 1.2, 4),
                     bias=rng.normal(0.3, 0.1, 4), axis=1)
    nodes = {
        "input": n.Input(type=TensorType((2, 4, 4))),
        "conv": n.Conv2d(weight=rng.normal(0.3, 1, (4, 2, 3, 3)), bias=np.zeros(4), padding=1),
        "lif1": lif(),
        "pool.sum": n.SumPool2d(kernel_size=2, stride=2),
        "pool": n.Threshold(threshold=np.array(1.0), fire=">"),
        "flatten": n.Flatten(start_dim=1),
        "tokens": n.Transpose(perm=(1, 0)),
        "fc1": n.Affine(weight=rng.normal(0.5, 1, (6, 4)), bias=rng.normal(0.2, 0.2, 6)),
        "scale": n.Scale(scale=np.array(1.5)),
        "lif2": lif(),
        "fc2": n.Affine(weight=rng.normal(0.4, 1, (4, 6)), bias=np.zeros(4)),
        "lif3": lif(),
        "res": n.Add(),
        "tokens_first": n.Transpose(perm=(1, 0)),
        "mix": n.Linear(weight=rng.normal(0.3, 0.5, (4, 4))),
        "channels_last": n.Transpose(perm=(1, 0)),
        "mix_scale": n.Scale(scale=np.array(0.8)),
        "bn": bn,
        "lif4": lif(),
        "res2": n.Add(),
        "mean": n.Mean(axis=0),
        "head": n.Affine(weight=rng.normal(0, 1, (3, 4)), bias=rng.normal(0, 0.1, 3)),
        "output": n.Output(),
    }
    path = ["input", "conv", "lif1", "pool.sum", "pool", "flatten", "tokens", "fc1", "scale", "lif2", "fc2", "lif3",
            "res", "tokens_first", "mix", "channels_last", "mix_scale", "bn", "lif4", "res2", "mean", "head", "output"]
    edges = [Edge(a, b) for a, b in zip(path, path[1:], strict=False)] + [Edge("tokens", "res"), Edge("res", "res2")]
    return Graph(nodes, edges)


def spikes(graph: Graph, lowered: Graph, x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per spiking layer: (before, after) spikes ``[T, B, size]``, the before ones in the lowered neuron's layout."""
    before, after = simulate(graph, x, trace=list(SPIKING)), simulate(lowered, x, trace=list(SPIKING))
    layouts = lowered.metadata.get("layouts", {})
    out = {}
    for layer in SPIKING:
        a, b = (t.traces[layer].reshape(*x.shape[:2], -1) for t in (before, after))
        out[layer] = (a[..., np.asarray(layouts[layer])] if layer in layouts else a, b)
    return out


def test_token_graph_becomes_flat_primitives_with_identical_spikes():
    rng = np.random.default_rng(3)
    graph = token_graph(rng)
    result = TokensToVectors().run(graph)
    lowered = result.graph
    assert result.changed and result.refusals == ()
    assert [lowered.nodes[k].op for k in lowered.order] == [
        "Input", "Conv2d", "LIF", "SumPool2d", "LIF", "Flatten", "Affine", "LIF", "Affine", "LIF", "Affine", "LIF",
        "Affine", "Output"]
    assert {node.op for node in lowered.nodes.values()} <= NIR_OPS
    pool = lowered.nodes["pool"]
    assert (pool.tau, pool.r, pool.v_leak, pool.v_reset, pool.fire) == (1.0, 1.0, 0.0, 0.0, ">")
    assert lowered.types["lif2"].shape == (24,) and lowered.types["pool"].shape == (4, 2, 2)
    assert lowered.nodes["fc1"].weight.shape == (24, 16)  # kron(I_4, W) with the Transpose and Scale folded in
    assert sorted(lowered.sources("head")["input"]) == ["lif3", "lif4", "pool.flat"]  # the Adds became edges
    assert set(lowered.metadata["layouts"]) == {"lif3", "lif4"}  # stored channel-major like the pooled spikes
    x = rng.uniform(0, 1.5, (4, 3, 2, 4, 4))
    for layer, (before, after) in spikes(graph, lowered, x).items():
        assert 0.01 < before.mean() < 0.99, f"{layer} fires at {before.mean():.3f}: the test would be vacuous"
        assert np.array_equal(before, after), layer
    out_before, out_after = simulate(graph, x).output, simulate(lowered, x).output
    assert np.abs(out_before - out_after).max() < 1e-12


def test_threshold_becomes_a_lif_with_tau_dt_on_integer_sums():
    graph = chain(("sum", n.SumPool2d(kernel_size=2, stride=1)), ("thr", n.Threshold(threshold=np.array(2.0))),
                  input_type=TensorType((1, 3, 3), kind="binary"), dt=0.5)
    lowered = TokensToVectors().run(graph).graph
    assert lowered.nodes["thr"].op == "LIF" and lowered.nodes["thr"].tau == 0.5
    x = np.random.default_rng(0).integers(0, 2, (6, 2, 1, 3, 3)).astype(float)
    before, after = simulate(graph, x).output, simulate(lowered, x).output
    assert 0.05 < before.mean() < 0.95 and np.array_equal(before, after)


@pytest.mark.parametrize(("graph", "node", "reason"), [
    (chain(("conv", n.Conv2d(weight=np.ones((1, 1, 1, 1)), bias=np.zeros(1))), ("thr", n.Threshold(threshold=0.5)),
           input_type=TensorType((1, 2, 2))), "thr", "input is real"),
    (chain(("shape", n.Reshape(shape=(1, 2, 2))), ("conv", n.Conv2d(weight=np.ones((1, 1, 1, 1)), bias=np.zeros(1))),
           input_type=TensorType((4,))), "conv", "Conv2d needs its input as it is"),
    (chain(("pool", n.MaxPool2d(kernel_size=2, stride=2)), input_type=TensorType((1, 2, 2))), "pool",
     "MaxPool2d is neither a NIR primitive"),
])
def test_refuses_what_it_cannot_express_and_leaves_the_graph(graph, node, reason):
    result = TokensToVectors().run(graph)
    assert not result.changed and result.graph is graph
    assert [(r.node, r.reason.startswith(reason)) for r in result.refusals] == [(node, True)]
