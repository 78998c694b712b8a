"""The Lava process network: Lava's spikes (CPU backend, fixed_pt models) equal the fixed-point simulation's bit
for bit, in every LIF layer and output, every layer firing, on a dense chain fed graded payloads, a conv net with
unequal axes (conv -> flatten -> dense), a recurrent graph (Lava recurrence) and a residual merge that needs a
balancing delay; the pipeline-fill resets are what makes biased layers exact; what Lava cannot hold is refused."""

import numpy as np
import pytest
from snncompile_lava import network
from snncompile_lava.run import run_lava

from snncompile.errors import SnnError, UnsupportedError
from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.latency import UnbalancedLoop
from snncompile.sim import simulate
from tests import lava_graphs as lg

STEPS, BATCH = 8, 2


def case(name: str) -> tuple[Graph, np.ndarray]:
    rng = np.random.default_rng(0)
    if name == "dense":
        return lg.dense_chain(rng), rng.uniform(0, 4, (STEPS, BATCH, 10))
    build, shape = {"conv": (lg.conv_net, (2, 7, 6)), "recurrent": (lg.recurrent, (8,)),
                    "residual": (lg.residual, (8,))}[name]
    return build(rng), lg.spikes(rng, STEPS, BATCH, shape)


def layers(graph: Graph) -> list[str]:
    return [v for v, node in graph.nodes.items() if isinstance(node, n.LoihiLIF | n.Output)]


@pytest.mark.parametrize("name", ["dense", "conv", "recurrent", "residual"])
def test_lava_spikes_equal_the_fixed_point_simulation(name, capsys):
    graph, x = case(name)
    ref = simulate(graph, x, trace=layers(graph)).traces
    got = run_lava(graph, x)
    assert sorted(got.values) == sorted(layers(graph))
    for layer in layers(graph):
        assert 0 < ref[layer].mean() < 1, layer
        assert got.values[layer].shape == (STEPS, BATCH, *graph.types[layer].shape)
        np.testing.assert_array_equal(got.values[layer], ref[layer], err_msg=layer)
    assert capsys.readouterr().err == ""  # no progress bar off a terminal
    assert got.lava_steps == BATCH * (STEPS + got.depth)


def test_latency_and_the_one_balancing_delay_of_the_residual_merge(tmp_path):
    graph, x = case("residual")
    net = network.build_network(graph, {"in": x.astype(np.int64)}, STEPS, tmp_path)
    assert [net.plan.latency[v] for v in ("l1", "l2", "l3", "out")] == [1, 2, 3, 3] and net.window == STEPS + 3
    lines = [p for p in net.processes if type(p).__name__ == "DelayLine"]
    assert [(p.name, p.proc_params["delay"]) for p in lines] == [("skip.delay1", 1)]
    assert {k: np.load(path).shape for k, path in net.records.items()} == \
        {"l1": (22, 8), "l2": (22, 8), "l3": (22, 6), "out": (22, 6)}  # batch x (steps + depth) rows


def test_without_the_pipeline_fill_resets_biased_layers_differ(monkeypatch):
    """Layer a of the recurrent graph, given a bias that fires it from rest in one step: left alone for its first
    step it spikes, and those warm-up spikes come back through the recurrent synapse."""
    graph, x = case("recurrent")
    graph = graph.with_node("a", lg.lif((10,), vth=120, du=2048, bias=4095, bias_exp=1))
    ref = simulate(graph, x, trace=["a"]).traces["a"]
    np.testing.assert_array_equal(run_lava(graph, x).values["a"], ref)
    monkeypatch.setattr(network.LavaNetwork, "fill", property(lambda self: 0))
    got = run_lava(graph, x).values["a"]
    assert 0 < ref.mean() < 1 and not np.array_equal(got, ref)


BINARY4 = TensorType((4,), "binary")


def _chain(*named, input_type=BINARY4) -> Graph:
    names = ["in", *(k for k, _ in named), "out"]
    nodes = {"in": n.Input(type=input_type), **dict(named), "out": n.Output()}
    return Graph(nodes, [Edge(a, b) for a, b in zip(names, names[1:], strict=False)])


def test_what_lava_cannot_hold_is_refused_with_the_node_and_reason():
    float_lif = n.LIF(tau=2.0, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    with pytest.raises(UnsupportedError, match=r"^node 'lif': LIF has no Lava process here \(the Lava network "
                                               r"takes Input, Output, LoihiDense"):
        network.check(_chain(("fc", n.LoihiDense(weight=np.full((3, 4), 2))), ("lif", float_lif)))
    with pytest.raises(UnsupportedError, match=r"node 'fc': Lava's Dense takes a vector, got binary\[2x4\]"):
        network.check(_chain(("fc", n.LoihiDense(weight=np.full((3, 4), 2))), ("lif", lg.lif((2, 3), vth=1)),
                             input_type=TensorType((2, 4), "binary")))
    with pytest.raises(UnsupportedError, match=r"node 'in': a real-valued input reaches the chip only through "
                                               r"LoihiEncode"):
        network.check(_chain(("fc", n.LoihiDense(weight=np.full((3, 4), 2))), ("lif", lg.lif((3,), vth=1)),
                             input_type=TensorType((4,))))


def test_a_loop_of_two_synapse_layers_is_refused_before_lava_starts():
    rng = np.random.default_rng(1)
    graph = lg.recurrent(rng)
    graph = graph.replace(nodes={**graph.nodes, "rec2": n.LoihiDense(weight=lg.weights(rng, (10, 10), -10, 10)),
                                 "a2": lg.lif((10,), vth=10)},
                          edges=[e for e in graph.edges if e.dst != "a.prev"]
                          + [Edge("rec", "a2"), Edge("a2", "rec2"), Edge("rec2", "a.prev")])
    with pytest.raises(UnbalancedLoop, match=r"node 'a.prev': the recurrent loop .* holds 2 synapse layer"):
        run_lava(graph, lg.spikes(rng, 4, 1, (8,)))


def test_input_data_is_checked_against_the_input_type():
    graph, x = case("residual")
    with pytest.raises(SnnError, match=r"^input 'in' is binary: its values must be 0 or 1$"):
        run_lava(graph, 2 * x)
    with pytest.raises(SnnError, match=r"^steps must lie in \[1, 8\] \(the inputs hold 8 steps\), got 9$"):
        run_lava(graph, x, 9)
    with pytest.raises(SnnError, match=r"^input 'in' must be \[T, B, 8\], got \[8, 2, 7\]$"):
        run_lava(graph, x[..., :7])
