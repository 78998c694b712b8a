"""Pass infrastructure: the ``--passes`` parser (typed options, one-line errors), the registry, named pipelines,
running a pipeline with --dump-after, and verification after every pass."""

import dataclasses

import numpy as np
import pytest

from snncompile.errors import IRError, SnnError
from snncompile.ir import Graph
from snncompile.ir.nir_io import read_nir
from snncompile.passes.base import Pass, PassResult
from snncompile.passes.fold_batchnorm import FoldBatchNorm
from snncompile.passes.maxpool_spikes import MaxPoolSpikes
from snncompile.passes.registry import PASSES, options, parse_passes, pipeline, run_pipeline
from snncompile.targets.plugins import load_target, target_names
from tests.graphs import dense_lif


@dataclasses.dataclass(frozen=True)
class Toy(Pass):
    """Options of every supported type; the rewrite changes nothing."""

    name = "toy"
    steps: int = 1
    scale: float = 1.0
    exact: bool = True
    mode: str = "a"

    def rewrite(self, graph: Graph) -> PassResult:
        return PassResult(graph, False)


@dataclasses.dataclass(frozen=True)
class Needy(Pass):
    name = "needy"
    bits: int

    def rewrite(self, graph: Graph) -> PassResult:
        return PassResult(graph, False)


@dataclasses.dataclass(frozen=True)
class DropEdge(Pass):
    """Broken on purpose: removes the edges into the last Affine node."""

    name = "drop-edge"

    def rewrite(self, graph: Graph) -> PassResult:
        return PassResult(graph.replace(edges=[e for e in graph.edges if e.dst != "fc1"]), True)


TOYS = {"toy": lambda: Toy, "needy": lambda: Needy, "drop-edge": lambda: DropEdge}


def test_options_are_parsed_to_field_types():
    passes = parse_passes(" toy , toy{steps=3, scale=0.5,exact=false,mode=xy}", TOYS)
    assert passes == [Toy(), Toy(steps=3, scale=0.5, exact=False, mode="xy")]
    assert [p.spec() for p in passes] == ["toy", "toy{steps=3,scale=0.5,exact=false,mode=xy}"]
    assert parse_passes(passes[1].spec(), TOYS) == passes[1:]
    assert options(Toy) == {"steps": int, "scale": float, "exact": bool, "mode": str}
    assert parse_passes("needy{bits=8}", TOYS) == [Needy(bits=8)]


@pytest.mark.parametrize(("text", "message"), [
    ("nope", "unknown pass 'nope' (passes: toy, needy, drop-edge)"),
    ("toy{depth=2}", "pass 'toy' has no option 'depth' (options: steps: int, scale: float, exact: bool, mode: str)"),
    ("toy{steps=2.5}", "pass 'toy' option 'steps': '2.5' is not of type int"),
    ("toy{exact=maybe}", "pass 'toy' option 'exact': 'maybe' is not of type bool (expected true or false"),
    ("toy{steps}", "pass 'toy': expected key=value, got 'steps'"),
    ("toy{steps=1,steps=2}", "pass 'toy': option 'steps' given twice"),
    ("needy", "pass 'needy' needs option(s) bits (options: bits: int)"),
    ("toy{steps=1", "cannot parse passes 'toy{steps=1' at position 0"),
    ("toy;toy", "cannot parse passes 'toy;toy' at position 0"),
    ("", "no passes given"),
])
def test_bad_specs_give_one_line(text, message):
    with pytest.raises(SnnError) as err:
        parse_passes(text, TOYS)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_registry_is_lazy_and_named_like_the_passes():
    assert {"fold-batchnorm": FoldBatchNorm, "maxpool-spikes": MaxPoolSpikes}.items() <= \
        {name: load() for name, load in PASSES.items()}.items()
    assert all(load().name == name for name, load in PASSES.items())
    assert pipeline("cpu")[:2] == [FoldBatchNorm(), MaxPoolSpikes()]
    targets = [load_target(name) for name in target_names()]
    assert all(parse_passes(",".join(t.pipeline(t.chip(None)))) for t in targets)
    with pytest.raises(SnnError, match=r"^unknown target 'nope' \(targets: cpu, lava, nir\)$"):
        pipeline("nope")


def test_pipeline_reports_and_dumps_after_a_pass(tmp_path):
    graph = dense_lif(np.random.default_rng(0))
    out, report = run_pipeline(graph, parse_passes("toy,toy{steps=2}", TOYS), dump_after="toy", dump_dir=tmp_path)
    assert out is graph
    assert [(s.spec, s.changed, s.nodes_before, s.nodes_after, s.refusals) for s in report] == \
        [("toy", False, 6, 6, ()), ("toy{steps=2}", False, 6, 6, ())]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01-toy.nir", "02-toy.nir"]
    assert read_nir(tmp_path / "02-toy.nir") == graph
    with pytest.raises(SnnError, match=r"^--dump-after 'fold-batchnorm' is not in the pipeline \(passes: toy\)$"):
        run_pipeline(graph, [Toy()], dump_after="fold-batchnorm", dump_dir=tmp_path)


def test_verify_after_pass_names_the_pass_and_the_node():
    graph = dense_lif(np.random.default_rng(0))
    with pytest.raises(IRError) as err:
        run_pipeline(graph, [Toy(), DropEdge()])
    assert err.value.node == "fc1" and str(err.value) == "node 'fc1': Affine has no incoming edge (after drop-edge)"


@pytest.fixture(scope="module")
def rewritable() -> list[Graph]:
    """Graphs that every registered pass rewrites somewhere: the five trained digits models as traced, BN kept (BN, SSA,
    max pools, mixers, QK attention, DSSA, halting), and each after the cpu pipeline (tokens-to-vectors,
    graded-to-binary)."""
    from pathlib import Path

    from snncompile.frontend import trace
    from snncompile.frontend.checkpoint import load_model

    graphs = []
    for path in sorted((Path(__file__).resolve().parents[1] / "examples").glob("*_digits.pt")):
        model, _ = load_model(path)
        graph = trace(model, model.input_shape, fold_bn=False)
        graphs += [graph, run_pipeline(graph, pipeline("cpu"))[0]]
    return graphs


@pytest.mark.parametrize("name", sorted(PASSES))
def test_every_pass_rewrites_without_mutating_its_input(name, rewritable):
    """Each pass runs on every graph; on at least one it changes something, and no input graph changes (nodes,
    their parameter arrays, edges, metadata), compared with a deep copy taken before."""
    import copy

    cls = PASSES[name]()
    changed = 0
    for graph in rewritable:
        before = Graph(copy.deepcopy(dict(graph.nodes)), graph.edges, graph.dt, copy.deepcopy(dict(graph.metadata)))
        result = cls(samples=8).run(graph) if name == "token-masks" else cls().run(graph)
        changed += result.changed
        assert graph == before and graph.edges == before.edges
    assert changed, f"{name} rewrote none of the graphs: the test would not see a mutation"
