"""Recurrent graphs: NIR cycles read as Previous nodes, simulated, written back, and run equal to norse and to an
independent implementation of NIR's equations (the NIR paper's Braille networks, tests/data/NIR_README.md)."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from snncompile.errors import InputFileError, IRError, UnsupportedError
from snncompile.interop.norse import run_norse
from snncompile.ir import Edge, Graph, TensorType, verify
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import read_nir, write_nir
from snncompile.ir.recurrence import back_edges, close_cycles
from snncompile.ir.stats import node_stats
from snncompile.passes.registry import PASSES, pipeline, run_pipeline
from snncompile.sim import simulate
from tests.checks import assert_same_spikes

DATA = Path(__file__).parent / "data"
BRAILLE = DATA / "braille_rnn.nir"  # dt = 1e-4: time constants in seconds
NESTED = DATA / "braille_rnn_subgraph.nir"  # time constants in steps (tau_syn = 10, tau_mem = 2.22): dt = 1
HIDDEN = {BRAILLE: ("lif1.lif", "lif1.w_rec"), NESTED: ("hidden.lif", "hidden.lin")}
DT = {BRAILLE: 1e-4, NESTED: 1.0}


def braille_events(graph: Graph, steps: int = 200, seed: int = 0, rate: float = 0.8) -> np.ndarray:
    """Time-varying spike input ``[T, B, 12]`` under which both layers fire. The trained networks are quiet: every
    input channel's total weight is negative, so random spikes on all channels silence them. Sample b drives one
    hidden neuron that its positive input weights (plus bias) can push over threshold: each of those channels spikes
    with probability ``rate`` at every step."""
    w, b = graph.nodes["fc1"].weight, graph.nodes["fc1"].bias
    drivable = np.flatnonzero(np.clip(w, 0, None).sum(1) + b > 1)
    channels = (w[drivable] > 0).astype(np.float64)
    rng = np.random.default_rng(seed)
    return (rng.random((steps, len(drivable), w.shape[1])) < rate) * channels


def nir_reference(path, x: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """NIR's CubaLIF equations (forward Euler) written out for the two-layer recurrent network, float64:
    ``I += (w_in * x - I) * dt / tau_syn``; ``v += (v_leak - v + r * I) * dt / tau_mem``; spike ``v > v_th``, reset to
    ``v_reset``; the recurrent Affine reads the hidden spikes of the previous step (zero at the first)."""
    g = nir.read(path) if path == BRAILLE else None
    if g is None:  # stock nir.read rejects the nested file's subgraph; read its parameters with our reader
        graph = read_nir(path, dt=dt)
        par = {k: graph.nodes[k] for k in graph.nodes}
        fc1, rec, lif1, fc2, lif2 = (par[k] for k in ("fc1", "hidden.lin", "hidden.lif", "fc2", "lif2"))
    else:
        fc1, rec, lif1, fc2, lif2 = (g.nodes[k] for k in ("fc1", "lif1.w_rec", "lif1.lif", "fc2", "lif2"))

    def cuba(p, x, state):
        i, v = state
        i = i + (p.w_in * x - i) * dt / p.tau_syn
        v = v + (p.v_leak - v + p.r * i) * dt / p.tau_mem
        s = (v > p.v_threshold).astype(np.float64)
        return s, (i, np.where(s > 0, p.v_reset, v))

    steps, batch = x.shape[:2]
    s1 = np.zeros((batch, fc1.weight.shape[0]))
    st1 = (np.zeros_like(s1), np.zeros_like(s1))
    st2 = (np.zeros((batch, fc2.weight.shape[0])),) * 2
    out = {"hidden": [], "lif2": []}
    for t in range(steps):
        back = s1 @ rec.weight.T + rec.bias if t else 0.0  # previous step's recurrent Affine output
        s1, st1 = cuba(lif1, x[t] @ fc1.weight.T + fc1.bias + back, st1)
        s2, st2 = cuba(lif2, s1 @ fc2.weight.T + fc2.bias, st2)
        out["hidden"].append(s1)
        out["lif2"].append(s2)
    return {k: np.stack(v) for k, v in out.items()}


def _spikes(graph: Graph, x: np.ndarray, hidden: str, dtype=torch.float64) -> dict[str, np.ndarray]:
    result = simulate(graph, x, dtype=dtype, trace=(hidden, "lif2"))
    return {"hidden": result.traces[hidden], "lif2": result.traces["lif2"]}


def _assert_firing(spikes: dict[str, np.ndarray]) -> None:
    for layer, s in spikes.items():
        assert 0.001 < s.mean() < 0.9, (layer, s.mean())


@pytest.mark.parametrize("path", [BRAILLE, NESTED], ids=["braille_rnn", "braille_rnn_subgraph"])
def test_braille_reads_as_a_cycle_through_one_previous_node(path):
    graph = read_nir(path, dt=DT[path])
    hidden, recurrent = HIDDEN[path]
    assert graph.previous == [f"{recurrent}.prev"]
    assert graph.sources(f"{recurrent}.prev") == {"input": [recurrent]}
    assert sorted(graph.sources(hidden)["input"]) == sorted(["fc1", f"{recurrent}.prev"])
    assert graph.closes_cycle(f"{recurrent}.prev")
    assert graph.types[f"{recurrent}.prev"] == TensorType((38,), "real")
    stats = {r.name: r for r in node_stats(graph)}
    assert stats[recurrent].synapses == 38 * 38 and stats[f"{recurrent}.prev"].synapses == 0


@pytest.mark.parametrize("path", [BRAILLE, NESTED], ids=["braille_rnn", "braille_rnn_subgraph"])
def test_braille_spikes_equal_the_nir_equations_written_out(path):
    graph = read_nir(path, dt=DT[path])
    x = braille_events(graph)
    ours, ref = _spikes(graph, x, HIDDEN[path][0]), nir_reference(path, x, DT[path])
    _assert_firing(ref)
    for layer in ref:
        assert np.array_equal(ours[layer], ref[layer]), layer


@pytest.mark.parametrize("path", [BRAILLE, NESTED], ids=["braille_rnn", "braille_rnn_subgraph"])
def test_braille_spikes_equal_norse_in_float32_and_float64(path, tmp_path):
    """norse runs the stock file (braille_rnn) or, for the nested file that stock ``nir.read`` rejects, the flat file
    snncompile writes for it. Its CubaLIF uses the neuron's v_leak in the synapse too and resets to 0 (not v_reset):
    both are 0 here, so its equations are NIR's."""
    graph = read_nir(path, dt=DT[path])
    hidden = HIDDEN[path][0]
    x = braille_events(graph)
    if path == NESTED:
        write_nir(graph, tmp_path / "flat.nir")
        stock = nir.read(tmp_path / "flat.nir")
    else:
        stock = nir.read(path)
        stock.metadata = {"snncompile": {"dt": DT[path]}}
    _, theirs = run_norse(stock, x, record=(hidden, "lif2"))
    _assert_firing({"hidden": theirs[hidden], "lif2": theirs["lif2"]})
    for dtype in (torch.float32, torch.float64):
        ours = _spikes(graph, x, hidden, dtype)
        assert np.array_equal(ours["hidden"], theirs[hidden]) and np.array_equal(ours["lif2"], theirs["lif2"])


def test_the_recurrent_edge_changes_the_spikes():
    """Without its recurrent edge the network spikes differently, so the equality tests above see recurrence."""
    graph = read_nir(BRAILLE, dt=1e-4)
    x = braille_events(graph)
    gone = {"lif1.w_rec", "lif1.w_rec.prev"}
    cut = Graph({k: v for k, v in graph.nodes.items() if k not in gone},
                [e for e in graph.edges if not {e.src, e.dst} & gone], dt=graph.dt)
    assert not np.array_equal(_spikes(graph, x, "lif1.lif")["hidden"], _spikes(cut, x, "lif1.lif")["hidden"])


@pytest.mark.parametrize("path", [BRAILLE, NESTED], ids=["braille_rnn", "braille_rnn_subgraph"])
def test_round_trip_is_exact_and_the_file_is_standard_nir(path, tmp_path):
    graph = read_nir(path, dt=DT[path])
    write_nir(graph, tmp_path / "a.nir")
    again = read_nir(tmp_path / "a.nir")
    assert again == graph and again.edges == graph.edges and list(again.nodes) == list(graph.nodes)
    stock = nir.read(tmp_path / "a.nir")  # the cycle is a plain edge: no extension node
    hidden, recurrent = HIDDEN[path]
    assert (recurrent, hidden) in stock.edges and not any(".prev" in k for k in stock.nodes)
    write_nir(again, tmp_path / "b.nir")
    assert (tmp_path / "a.nir").read_bytes() == (tmp_path / "b.nir").read_bytes()


def _graph(nodes: dict[str, n.Node], pairs: list[tuple[str, str]]) -> Graph:
    return Graph(nodes, [Edge(a, b) for a, b in pairs])


def _affine(size: int = 3, scale: float = 0.5) -> n.Affine:
    return n.Affine(weight=np.eye(size) * scale, bias=np.zeros(size))


def test_depth_first_rule_picks_the_edge_back_to_the_search_path():
    names = ["in", "a", "b", "c", "out"]
    pairs = [("in", "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("b", "b"), ("c", "out")]
    assert back_edges(names, ["in"], pairs) == [3, 4]  # c -> a returns to the path, b -> b is a self-loop
    assert back_edges(names, ["in"], [("in", "a"), ("a", "b"), ("in", "b")]) == []  # a rejoin is no cycle


def test_a_cycle_of_affines_without_neurons_is_a_linear_recurrence():
    """y[t] = x[t] + 0.5 * y[t-1]: after a unit impulse, 1, 0.5, 0.25, ..."""
    nodes = {"in": n.Input(type=TensorType((3,))), "a": _affine(), "b": _affine(scale=1.0), "out": n.Output()}
    flat = _graph(nodes, [("in", "b"), ("b", "a"), ("a", "b"), ("b", "out")])
    graph = Graph(*close_cycles(flat.nodes, list(flat.edges)))
    assert graph.previous == ["a.prev"]
    x = np.zeros((5, 1, 3))
    x[0] = 1.0
    assert np.allclose(simulate(graph, x).output[:, 0, 0], [1, 0.5, 0.25, 0.125, 0.0625])


def test_a_cycle_without_previous_node_names_the_cycle():
    nodes = {"in": n.Input(type=TensorType((3,))), "a": _affine(), "b": _affine(), "out": n.Output()}
    with pytest.raises(IRError, match=r"cycle that no Previous node closes: a -> b -> a"):
        verify(_graph(nodes, [("in", "a"), ("a", "b"), ("b", "a"), ("b", "out")]))


def test_previous_type_must_match_its_input():
    nodes = {"in": n.Input(type=TensorType((3,))), "p": n.Previous(type=TensorType((3,), "binary")), "a": _affine(),
             "out": n.Output()}
    with pytest.raises(IRError, match=r"node 'p': Previous declares type binary\[3\] but its input is real\[3\]"):
        verify(_graph(nodes, [("in", "a"), ("a", "p"), ("p", "a"), ("a", "out")]))


def test_a_node_fed_only_through_a_cycle_is_refused():
    nodes = {"in": n.Input(type=TensorType((3,))), "a": _affine(), "b": _affine(), "out": n.Output()}
    with pytest.raises(IRError, match=r"node 'a': port 'input' is fed only through a cycle"):
        close_cycles(nodes, [Edge("in", "out"), Edge("a", "b"), Edge("b", "a")])


def test_a_one_step_delay_outside_a_cycle_is_not_written(tmp_path):
    nodes = {"in": n.Input(type=TensorType((3,))), "p": n.Previous(type=TensorType((3,))), "out": n.Output()}
    graph = verify(_graph(nodes, [("in", "p"), ("p", "out")]))
    assert np.array_equal(simulate(graph, np.ones((2, 1, 3))).output[:, 0], [[0, 0, 0], [1, 1, 1]])
    with pytest.raises(UnsupportedError, match=r"node 'p': a Previous node outside a cycle"):
        write_nir(graph, tmp_path / "x.nir")
    assert not list(tmp_path.iterdir())


def test_a_file_whose_previous_record_names_missing_edges_is_refused(tmp_path):
    import h5py

    graph = read_nir(BRAILLE, dt=1e-4)
    write_nir(graph, tmp_path / "a.nir")
    with h5py.File(tmp_path / "a.nir", "a") as f:
        del f["node/metadata/snncompile/previous/lif1.w_rec.prev/sources"]
        f["node/metadata/snncompile/previous/lif1.w_rec.prev/sources"] = np.array(["fc2"], dtype=object)
    with pytest.raises(InputFileError, match=r"stands for an edge 'fc2' -> 'lif1.lif' that the file lacks"):
        read_nir(tmp_path / "a.nir")


def recurrent_conv_net(seed: int = 0) -> Graph:
    """A conv net whose first LIF layer is recurrent through a max pool, a conv and a batch norm (patterns that
    fold-batchnorm, maxpool-spikes and graded-to-binary rewrite, all inside the cycle):
    ``lif1 <- bn1(conv1(x)) + Previous(bn_rec(conv_rec(lif1 + pool(lif1))))``, then ``lif2``, a head, the output."""
    rng = np.random.default_rng(seed)

    def conv(c_in, c_out, mean):
        return n.Conv2d(weight=rng.normal(mean, 0.3, (c_out, c_in, 3, 3)), bias=rng.normal(0.1, 0.1, c_out),
                        padding=(1, 1))

    def bn(c):
        return n.BatchNorm(mean=rng.normal(0, 0.1, c), var=rng.uniform(0.5, 1.5, c), weight=rng.uniform(0.8, 1.2, c),
                           bias=rng.normal(0, 0.1, c), axis=0)

    nodes = {"in": n.Input(type=TensorType((2, 6, 6))), "conv1": conv(2, 3, 0.15), "bn1": bn(3),
             "lif1": n.LIF(tau=2.0, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, fire=">=", reset="hard"),
             "pool": n.MaxPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)), "conv_rec": conv(3, 3, -0.05),
             "bn_rec": bn(3), "conv2": conv(3, 2, 0.1),
             "lif2": n.LIF(tau=2.0, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, fire=">=", reset="hard"),
             "flat": n.Flatten(start_dim=0, end_dim=-1), "head": n.Affine(weight=rng.normal(0, 0.3, (4, 72)),
                                                                          bias=np.zeros(4)), "out": n.Output()}
    pairs = [("in", "conv1"), ("conv1", "bn1"), ("bn1", "lif1"), ("lif1", "pool"), ("lif1", "conv_rec"),
             ("pool", "conv_rec"), ("conv_rec", "bn_rec"), ("bn_rec", "lif1"), ("lif1", "conv2"), ("conv2", "lif2"),
             ("lif2", "flat"), ("flat", "head"), ("head", "out")]
    return Graph(*close_cycles(nodes, [Edge(a, b) for a, b in pairs]))


APPROXIMATE = {"quantize"}  # fixed-point rounding: its deviation is measured in tests/test_quantize.py


@pytest.mark.parametrize("name", sorted(PASSES))
def test_every_pass_keeps_recurrence_or_leaves_it_alone(name):
    """Each pass on two recurrent graphs: the result verifies, every cycle is still closed by a Previous node, and
    the spikes are those of the input graph (every layer firing; an approximate pass: the layers it left alone)."""
    cls = PASSES[name]()
    conv = recurrent_conv_net()
    braille = read_nir(BRAILLE, dt=1e-4)
    for graph, x in ((conv, np.random.default_rng(1).uniform(0, 1.5, (12, 3, 2, 6, 6))),
                     (braille, braille_events(braille, steps=60))):
        result = cls().run(graph)
        assert result.graph.previous and all(result.graph.closes_cycle(p) for p in result.graph.previous)
        if name not in APPROXIMATE:
            assert_same_spikes(graph, result.graph, x)


def test_the_cpu_pipeline_rewrites_inside_the_cycle():
    graph = recurrent_conv_net()
    lowered, steps = run_pipeline(graph, pipeline("cpu"))
    assert {s.spec for s in steps if s.changed} == {"fold-batchnorm", "maxpool-spikes"}
    assert not any(isinstance(node, n.BatchNorm | n.MaxPool2d) for node in lowered.nodes.values())
    assert lowered.sources("bn_rec.prev") == {"input": ["conv_rec"]}  # the batch norm folded into the conv
    assert_same_spikes(graph, lowered, np.random.default_rng(1).uniform(0, 1.5, (12, 3, 2, 6, 6)))
    again = graded_to_binary(lowered)
    assert [k for k in again.nodes if k.startswith("conv_rec.")] == ["conv_rec.0", "conv_rec.1"]


def graded_to_binary(graph: Graph) -> Graph:
    from snncompile.passes.graded_to_binary import GradedToBinary

    result = GradedToBinary().run(graph)
    assert result.changed
    return result.graph


def test_recurrent_synapses_count_like_any_other():
    """The recurrent Affine's synaptic operations: one per hidden spike per target (38), counted from the spikes."""
    from snncompile.energy.count import count

    graph = read_nir(BRAILLE, dt=1e-4)
    x = braille_events(graph)
    result = simulate(graph, x, trace=("lif1.lif",))
    counts = {c.name: c for c in count(graph, result.activity).layers}
    hidden_spikes = result.traces["lif1.lif"].sum()
    assert hidden_spikes > 0 and counts["lif1.w_rec"].values["synops"] == hidden_spikes * 38 / x.shape[1]


def _cli(args, capsys) -> tuple[int, str, str]:
    from snncompile.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_simulates_compiles_and_counts_a_recurrent_file_on_time_varying_data(tmp_path, capsys):
    import json

    graph = read_nir(BRAILLE, dt=1e-4)
    x = braille_events(graph)  # [T, B, 12]
    np.savez(tmp_path / "events.npz", x=np.swapaxes(x, 0, 1))  # [N, T, 12], no labels
    code, out, err = _cli(["simulate", BRAILLE, "--dt", "1e-4", "--data", tmp_path / "events.npz", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    ref = _spikes(graph, x, "lif1.lif")
    assert report["steps"] == 200 and report["samples"] == 6 and report["accuracy"] is None
    assert report["firing_rates"]["lif1.lif"] == pytest.approx(ref["hidden"].mean())
    assert report["firing_rates"]["lif2"] == pytest.approx(ref["lif2"].mean())
    code, _, err = _cli(["simulate", BRAILLE, "--dt", "1e-4", "--data", tmp_path / "events.npz", "-T", "5"], capsys)
    assert code == 2 and err.startswith("snncompile: error: ") and len(err.splitlines()) == 1
    assert "-T 5 does not match the time-varying data, which has T = 200 steps" in err
    for target in ("cpu", "nir"):
        code, _, err = _cli(["compile", BRAILLE, "--dt", "1e-4", "--target", target, "-o", tmp_path / f"{target}.nir"],
                            capsys)
        assert code == 0, err
        lowered = read_nir(tmp_path / f"{target}.nir")
        assert lowered.previous and lowered.dt == 1e-4
        assert np.array_equal(_spikes(lowered, x, "lif1.lif")["hidden"], ref["hidden"])
    assert ("lif1.w_rec", "lif1.lif") in nir.read(tmp_path / "nir.nir").edges
    code, _, err = _cli(["energy", BRAILLE, "--dt", "1e-4", "--data", tmp_path / "events.npz", "--json",
                         tmp_path / "e.json"], capsys)
    assert code == 0, err
    layers = {row["name"]: row for row in json.loads((tmp_path / "e.json").read_text())["layers"]}
    assert layers["lif1.w_rec"]["synops"] == pytest.approx(ref["hidden"].sum() * 38 / 6)


def test_a_dt_in_the_wrong_unit_is_warned_about_as_silent_layers(tmp_path, capsys):
    """The nested file's time constants are in steps: at dt = 1e-4 nothing fires, and simulate says which layers."""
    x = braille_events(read_nir(NESTED, dt=1.0))
    np.savez(tmp_path / "events.npz", x=np.swapaxes(x, 0, 1))
    code, _, err = _cli(["simulate", NESTED, "--dt", "1e-4", "--data", tmp_path / "events.npz"], capsys)
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith("snncompile: warning: layer '") for line in lines)
    assert "'hidden.lif' (CubaLIF, 38 neurons) receives input but never fired in 200 steps x 12 samples" in lines[0]
    code, _, err = _cli(["simulate", NESTED, "--dt", "1", "--data", tmp_path / "events.npz"], capsys)
    assert code == 0 and err == ""
