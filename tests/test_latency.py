"""Latency on pipelined targets: latencies, delays and pipeline fill derived by hand for a chain, a residual merge,
recurrent loops of one and of no synapse layer; the pipelined network built from them (every synapse one step late,
the delays on the edges, Previous nodes seen through) equals the reference shifted by each node's latency; a loop of
two synapse layers is refused with the loop named. (With biases the fill matters too: tests/test_lava_network.py.)"""

import numpy as np
import pytest

from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.latency import SYNAPSE_OPS, UnbalancedLoop, balance, port_feeds
from snncompile.sim import simulate
from tests.graphs import lif


def _fc(rng, out, inp, mean=0.6):
    """No bias: a node at rest stays at rest on zero input, so the pipeline fill needs no reset here."""
    return n.Affine(weight=rng.normal(mean, 0.8, (out, inp)), bias=np.zeros(out))


def pipelined(graph: Graph) -> Graph:
    """The network as a pipelined target runs it: each synapse's output one step late (``<name>.step``), each
    (source, delay) feed of ``port_feeds`` through that many Previous nodes, no other Previous node."""
    plan = balance(graph)
    nodes = {v: node for v, node in graph.nodes.items() if not isinstance(node, n.Previous)}
    edges, carrier = [], {}
    for v in list(nodes):
        carrier[v] = v
        if graph.nodes[v].op in SYNAPSE_OPS:
            carrier[v] = f"{v}.step"
            nodes[carrier[v]] = n.Previous(type=graph.types[v])
            edges.append(Edge(v, carrier[v]))
    for v, ports in port_feeds(graph, plan).items():
        for port, feeds in ports.items():
            for src, delay in feeds:
                last = carrier[src]
                for k in range(1, delay + 1):
                    if f"{src}.late{k}" not in nodes:
                        nodes[f"{src}.late{k}"] = n.Previous(type=graph.types[src])
                        edges.append(Edge(last, f"{src}.late{k}"))
                    last = f"{src}.late{k}"
                edges.append(Edge(last, v, port))
    return Graph(nodes, edges)


def build(spec: dict, edges: list[tuple[str, str]], size: int = 4) -> Graph:
    nodes = {"in": n.Input(type=TensorType((size,))), **spec, "out": n.Output()}
    return Graph(nodes, [Edge(a, b) for a, b in edges])


def residual(rng):
    """in -> fc1 -> lif1 -> fc2 -> lif2 -> fc3 -> lif3 -> out, and lif1 -> skip -> lif3 (one synapse shorter)."""
    spec = {"fc1": _fc(rng, 4, 4), "lif1": lif(), "fc2": _fc(rng, 4, 4), "lif2": lif(), "fc3": _fc(rng, 4, 4),
            "skip": _fc(rng, 4, 4), "lif3": lif()}
    return build(spec, [("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "fc3"),
                        ("fc3", "lif3"), ("lif1", "skip"), ("skip", "lif3"), ("lif3", "out")])


def recurrent(rng, synapse_on_loop=True):
    """in -> fc -> lif -> out, and lif -> [rec ->] p -> lif (p a Previous node)."""
    spec = {"fc": _fc(rng, 4, 4, 0.9), "lif": lif(), "p": n.Previous(type=TensorType((4,), "real" if synapse_on_loop
                                                                                       else "binary"))}
    loop = [("lif", "rec"), ("rec", "p")] if synapse_on_loop else [("lif", "p")]
    if synapse_on_loop:
        spec["rec"] = n.Affine(weight=rng.normal(-0.3, 0.5, (4, 4)), bias=np.zeros(4))
    return build(spec, [("in", "fc"), ("fc", "lif"), *loop, ("p", "lif"), ("lif", "out")])


def assert_shifted_equal(graph, rng, steps=12):
    """The balanced graph run T + depth steps gives every node's reference values, each L(v) steps late (a
    synapse's value is what leaves its step, ``<name>.step``)."""
    plan = balance(graph)
    balanced = pipelined(graph)
    x = rng.uniform(0, 1.5, (steps, 3, 4))
    padded = np.concatenate([x, np.zeros((plan.depth,) + x.shape[1:])])
    names = [v for v, node in graph.nodes.items() if not isinstance(node, n.Input | n.Previous)]
    carrier = {v: f"{v}.step" if f"{v}.step" in balanced.nodes else v for v in names}
    ref = simulate(graph, x, trace=names).traces
    got = simulate(balanced, padded, trace=list(carrier.values())).traces
    for v in names:
        if isinstance(graph.nodes[v], n.LIF):
            assert 0 < ref[v].mean() < 1, v
        late = plan.latency[v]
        np.testing.assert_array_equal(got[carrier[v]][late:late + steps], ref[v], err_msg=v)
    return balanced


def test_chain_latency_counts_synapse_layers_and_needs_no_delay():
    rng = np.random.default_rng(0)
    graph = build({"fc1": _fc(rng, 4, 4), "lif1": lif(), "fc2": _fc(rng, 4, 4), "lif2": lif()},
                  [("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "out")])
    plan = balance(graph)
    assert plan.latency == {"in": 0, "fc1": 1, "lif1": 1, "fc2": 2, "lif2": 2, "out": 2} and plan.depth == 2
    assert plan.delays == (0,) * 5
    assert plan.fill == {"in": 0, "fc1": 0, "lif1": 1, "fc2": 1, "lif2": 2, "out": 2}
    balanced = assert_shifted_equal(graph, rng)
    assert sorted(v for v, node in balanced.nodes.items() if isinstance(node, n.Previous)) == ["fc1.step", "fc2.step"]


def test_residual_merge_delays_the_shorter_path_by_one_step():
    rng = np.random.default_rng(1)
    graph = residual(rng)
    plan = balance(graph)
    # fc1 1, lif1 1, fc2 2, lif2 2, fc3 3, skip 2, lif3 = max(3, 2) = 3: skip -> lif3 waits one step
    assert [plan.latency[v] for v in ("fc1", "lif1", "fc2", "lif2", "fc3", "skip", "lif3", "out")] == \
        [1, 1, 2, 2, 3, 2, 3, 3]
    assert dict(zip(((e.src, e.dst) for e in graph.edges), plan.delays, strict=True))[("skip", "lif3")] == 1
    assert sum(plan.delays) == 1
    balanced = assert_shifted_equal(graph, rng)
    assert balanced.sources("lif3")["input"] == ["fc3.step", "skip.late1"]


def test_unbalanced_merge_differs_without_the_delay():
    """The delay matters: the same graph with the delay left out (the skip read one step early) does not match."""
    rng = np.random.default_rng(1)
    graph = residual(rng)
    balanced = pipelined(graph)
    early = balanced.replace(edges=[Edge("skip.step", e.dst) if e.src == "skip.late1" else e for e in balanced.edges])
    x = rng.uniform(0, 1.5, (12, 3, 4))
    ref = simulate(graph, x, trace=["lif3"]).traces["lif3"]
    got = simulate(early, np.concatenate([x, np.zeros((3, 3, 4))]), trace=["lif3"]).traces["lif3"]
    assert not np.array_equal(got[3:15], ref)


def test_loop_of_one_synapse_is_exact_recurrence():
    rng = np.random.default_rng(2)
    graph = recurrent(rng)
    plan = balance(graph)
    assert [plan.latency[v] for v in ("fc", "lif", "rec", "p")] == [1, 1, 2, 1] and plan.delays == (0,) * 6
    assert [plan.fill[v] for v in ("fc", "lif", "rec")] == [0, 1, 1]
    balanced = assert_shifted_equal(graph, rng)
    assert "p" not in balanced.nodes and balanced.sources("lif")["input"] == ["fc.step", "rec.step"]


def test_loop_without_synapse_gets_one_step_of_delay():
    rng = np.random.default_rng(3)
    graph = recurrent(rng, synapse_on_loop=False)
    plan = balance(graph)
    assert plan.latency["lif"] == 1 and plan.latency["p"] == 0
    assert dict(zip(((e.src, e.dst) for e in graph.edges), plan.delays, strict=True))[("p", "lif")] == 1
    balanced = assert_shifted_equal(graph, rng)
    assert balanced.sources("lif")["input"] == ["fc.step", "lif.late1"]


def test_loop_of_two_synapses_is_refused_with_the_loop():
    rng = np.random.default_rng(4)
    spec = {"fc1": _fc(rng, 4, 4), "lif1": lif(), "fc2": _fc(rng, 4, 4), "lif2": lif(), "rec": _fc(rng, 4, 4),
            "p": n.Previous(type=TensorType((4,)))}
    graph = build(spec, [("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "rec"),
                         ("rec", "p"), ("p", "lif1"), ("lif2", "out")])
    with pytest.raises(UnbalancedLoop, match=r"node 'p': the recurrent loop .* holds 2 synapse layer\(s\) "
                                             r"\((fc2, rec|rec, fc2)\).* recurs after 1 step"):
        balance(graph)


def test_step_ops_counts_only_the_named_ops():
    graph = residual(np.random.default_rng(5))
    assert balance(graph, ("NoSuchOp",)).depth == 0
    assert balance(graph, ("Affine",)).depth == 3
