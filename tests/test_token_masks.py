"""token-masks: calibrated static masks replace AT-SNN's halting on the trained digits checkpoint; exact where the
calibrated masks match the input's own; always-masked rows shrunk away exactly (masked graph = shrunk graph);
removal counts by hand; refusals and one-line errors."""

from pathlib import Path

import numpy as np
import pytest

from snncompile.errors import SnnError
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.stats import node_stats
from snncompile.nn.data import load_digits_split
from snncompile.passes.registry import parse_passes
from snncompile.passes.token_masks import TokenMasks, halted_fraction, prune
from snncompile.passes.token_shrink import region, shrink
from snncompile.sim import simulate
from snncompile.sim.evaluate import evaluate

CHECKPOINT = Path(__file__).resolve().parents[1] / "examples" / "atsnn_digits.pt"


@pytest.fixture(scope="module")
def graph() -> Graph:
    model, _ = load_model(CHECKPOINT)
    return trace(model, model.input_shape)


def test_halting_becomes_static_masks_and_the_score_chain_is_removed(graph):
    result = TokenMasks(samples=64).run(graph)
    lowered = result.graph
    assert result.changed and result.refusals == ()
    ops = [lowered.nodes[k].op for k in lowered.order]
    assert ops.count("StaticTokenMask") == 2
    assert not {"TokenHalting", "TokenHaltingScore"} & set(ops) and ops.count("TokenMerge") == 1
    assert {"blocks.0.score", "blocks.1.halting_score", "merge_flags", "add_1"}.isdisjoint(lowered.nodes)
    assert lowered.nodes["blocks.1.halt"].mask.shape == (4, 16)
    assert lowered.sources("blocks.1.halt") == {"input": ["input"]}


def test_masks_equal_to_the_inputs_own_halting_give_identical_spikes(graph, tmp_path):
    """Calibrated on one sample with p = 100, the static masks are that sample's keep masks: same simulation."""
    x_train = load_digits_split()[0].numpy().astype(np.float64)[:48]
    halts = ["blocks.0.halt", "blocks.1.halt"]
    traced = simulate(graph, np.broadcast_to(x_train, (4,) + x_train.shape), trace=halts).traces
    index = int(np.argmax((traced["blocks.1.halt"] == 0).any((0, 2))))
    assert (traced["blocks.1.halt"][:, index] == 0).any()
    np.save(tmp_path / "one.npy", x_train[index:index + 1])
    lowered = TokenMasks(p=100.0, data=str(tmp_path / "one.npy"), shrink=False).run(graph).graph
    x = np.broadcast_to(x_train[index:index + 1], (4, 1) + x_train.shape[1:])
    lifs = [k for k in graph.order if isinstance(graph.nodes[k], n.LIF)]
    before, after = simulate(graph, x, trace=lifs + halts), simulate(lowered, x, trace=lifs + halts)
    assert len(lifs) == 19 and min(before.traces[k].mean() for k in lifs) > 0.01
    for k in lifs + halts:
        assert np.array_equal(before.traces[k], after.traces[k]), k
    assert np.array_equal(before.output, after.output)


def test_accuracy_at_p95_stays_within_a_few_points(graph):
    """Measured on all 450 test images (256 calibration samples): see docs/passes.md."""
    _, _, x_test, y_test = load_digits_split()
    x, y = x_test.numpy().astype(np.float64)[:200], y_test.numpy()[:200]
    lowered = TokenMasks(p=95.0, samples=128).run(graph).graph
    before, after = evaluate(graph, x, y, 4).accuracy, evaluate(lowered, x, y, 4).accuracy
    assert after >= before - 0.03 and after > 0.9


def _size(graph: Graph) -> tuple[int, int]:
    rows = node_stats(graph)
    return sum(r.neurons for r in rows), sum(r.synapses for r in rows)


def _small(lif_read_outside: bool = False) -> Graph:
    """x [3, 4] -> Affine 4 -> 5 -> IF -> TokenMask(static) -> Mean; token 1 masked at both steps, 2 at step 1."""
    mask = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    nodes = {"x": n.Input(type=TensorType((3, 4))), "keep": n.StaticTokenMask(mask=mask),
             "aff": n.Affine(weight=np.linspace(-1, 2, 20).reshape(5, 4), bias=np.full(5, 0.3)),
             "lif": n.IF(r=1.0, v_threshold=1.0, v_reset=0.0), "m": n.TokenMask(), "mean": n.Mean(axis=0),
             "out": n.Output()}
    edges = [Edge("x", "keep"), Edge("x", "aff"), Edge("aff", "lif"), Edge("lif", "m"), Edge("keep", "m", "mask"),
             Edge("m", "mean"), Edge("mean", "out")] + ([Edge("lif", "mean")] if lif_read_outside else [])
    return Graph(nodes, edges)


def test_always_masked_rows_are_shrunk_away_with_counts_by_hand():
    graph = _small()
    result = shrink(graph)
    shrunk = prune(result.graph)
    assert result.tokens == 1 and result.skippable == 20  # slot (1, 2): one row of 4 x 5 synapses at step 1
    assert _size(graph) == (15, 60) and _size(shrunk) == (10, 40)  # token 1: 5 neurons, 4 x 5 synapses removed
    ops = {k: shrunk.nodes[k].op for k in shrunk.order}
    assert ops["x.select"] == "TokenSelect" and ops["m.scatter"] == "TokenScatter" and "keep" not in ops
    assert shrunk.types["lif"].shape == (2, 5) and shrunk.nodes["keep.live"].mask.tolist() == [[1, 1], [1, 0]]
    x = np.random.default_rng(0).uniform(0, 2, (3, 2, 3, 4))
    lowered = simulate(shrunk, x, trace=["lif", "m.scatter"])
    original = simulate(graph, x, trace=["lif", "m"])
    assert original.traces["lif"][:, :, [0, 2]].mean() > 0.1
    assert np.array_equal(original.traces["lif"][:, :, [0, 2]], lowered.traces["lif"])
    assert np.array_equal(original.traces["m"], lowered.traces["m.scatter"])
    assert np.array_equal(original.output, lowered.output)


def test_rows_read_outside_the_masks_are_not_shrunk():
    """Near miss: the IF output also feeds the Mean directly, so its rows (and the Affine's) are needed."""
    graph = _small(lif_read_outside=True)
    off = graph.nodes["keep"].mask.max(0) == 0
    assert region(graph, "keep", off) == {"m"}
    shrunk = prune(shrink(graph).graph)
    assert _size(shrunk) == _size(graph) and shrunk.types["lif"].shape == (3, 5)


def test_masked_and_shrunk_trained_model_agree_exactly(graph):
    """Tokens 0, 3 and 12 forced off at every step in both blocks: the shrunk graph equals the masked one."""
    masked = TokenMasks(samples=32, shrink=False).run(graph).graph
    nodes = dict(masked.nodes)
    for k in ("blocks.0.halt", "blocks.1.halt"):
        mask = nodes[k].mask.copy()
        mask[:, [0, 3, 12]] = 0
        nodes[k] = n.StaticTokenMask(mask=mask)
    masked = masked.replace(nodes=nodes)
    result = shrink(masked)
    shrunk = prune(result.graph)
    assert result.tokens == 6 and shrunk.types["blocks.1.mlp.fc1_lif"].shape == (13, 256)
    assert _size(masked)[1] - _size(shrunk)[1] == 2 * 3 * (4 * 64 * 64 + 2 * 64 * 256)
    x = load_digits_split()[2].numpy().astype(np.float64)[:6]
    x = np.broadcast_to(x, (4,) + x.shape)
    lifs = [k for k in shrunk.order if isinstance(shrunk.nodes[k], n.LIF)]
    before, after = simulate(masked, x, trace=lifs), simulate(shrunk, x, trace=lifs)
    live = [k for k in range(16) if k not in (0, 3, 12)]
    for k in lifs:
        rows = live if after.traces[k].shape != before.traces[k].shape else slice(None)
        assert np.array_equal(before.traces[k][:, :, rows], after.traces[k]), k
        assert after.traces[k].mean() > 0.005, k
    np.testing.assert_allclose(after.output, before.output, rtol=0, atol=1e-12)  # the Mean sums in another order


def test_refusals_and_errors(graph, tmp_path):
    plain = Graph({"x": n.Input(type=TensorType((3,))), "out": n.Output()}, [Edge("x", "out")])
    result = TokenMasks().run(plain)
    assert not result.changed and [str(r) for r in result.refusals] == \
        ["token-masks: graph: no TokenHalting node: nothing to calibrate"]
    with pytest.raises(SnnError, match=r"p must be a percentage in \(0, 100\], got 120.0"):
        parse_passes("token-masks{p=120}")[0].run(graph)
    np.save(tmp_path / "wrong.npy", np.zeros((4, 1, 9, 9)))
    with pytest.raises(SnnError, match=r"data \[4, 1, 9, 9\] does not fit the graph input \[1, 8, 8\]"):
        TokenMasks(data=str(tmp_path / "wrong.npy")).run(graph)
    with pytest.raises(SnnError, match="must be 'digits' or an existing .npy file"):
        TokenMasks(data="nowhere.npy").run(graph)


def test_halted_fraction_counts_samples(graph):
    x = load_digits_split()[0].numpy().astype(np.float64)[:8]
    fractions = halted_fraction(graph, x, 4, ["blocks.1.halt"])["blocks.1.halt"]
    assert fractions.shape == (4, 16) and set(np.unique(fractions * 8)) <= set(range(9))
