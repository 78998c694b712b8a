"""The digits FWformer written as NIR, read by stock ``nir.read`` and run by norse.

After the cpu pipeline only the primitive prefix (the SPS convolutions and their LIFs, then a Flatten) is standard
NIR; on it norse, with the shims of snncompile.interop.norse, gives the same spikes as snncompile at every step of
every LIF. After the nir pipeline (cpu + tokens-to-vectors) the whole model is standard and norse gives the spikes of
snncompile's simulation of the unlowered traced graph in every LIF layer (see docs/nir.md, "Running in norse")."""

from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from snncompile_nir import ACCEPTS as NIR_OPS

from snncompile.errors import UnsupportedError
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.interop.norse import run_norse
from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import write_nir
from snncompile.nn.data import load_digits_split
from snncompile.passes.registry import pipeline, run_pipeline
from snncompile.sim import simulate

CHECKPOINT = Path(__file__).parents[1] / "examples" / "fwformer_digits.pt"


@pytest.fixture(scope="module")
def lowered_and_inputs() -> tuple[Graph, np.ndarray]:
    model, meta = load_model(CHECKPOINT)
    lowered, _ = run_pipeline(trace(model, model.input_shape, fold_bn=False), pipeline("cpu"))
    x = load_digits_split()[2][:64].numpy()
    return lowered, np.broadcast_to(x, (meta["T"],) + x.shape)


def prefix(graph: Graph, last: str, flatten: bool) -> Graph:
    """``graph`` up to node ``last``, then (optionally) a Flatten of the per-sample shape, then the Output."""
    keep = graph.order[:graph.order.index(last) + 1]
    nodes = {k: graph.nodes[k] for k in keep}
    edges = [e for e in graph.edges if e.src in nodes and e.dst in nodes]
    if flatten:
        nodes["flat"] = n.Flatten(start_dim=0)
        edges.append(Edge(last, "flat", "input"))
        last = "flat"
    nodes["output"] = n.Output()
    return graph.replace(nodes=nodes, edges=edges + [Edge(last, "output", "input")])


def test_norse_gives_the_same_spikes_on_the_standard_prefix(lowered_and_inputs, tmp_path):
    lowered, x = lowered_and_inputs
    graph = prefix(lowered, "sps.stages.3.lif", flatten=True)
    assert all(node.primitive for node in graph.nodes.values())
    write_nir(graph, tmp_path / "sps.nir")
    lifs = tuple(k for k in graph.order if graph.nodes[k].op == "LIF")
    assert len(lifs) == 4
    output, spikes = run_norse(nir.read(tmp_path / "sps.nir"), x, record=lifs)
    for dtype in (torch.float32, torch.float64):
        ours = simulate(graph, x, dtype=dtype, trace=lifs)
        for layer in lifs:
            assert ours.traces[layer].mean() > 0.01, f"{layer} is silent: the test would be vacuous"
            assert int((spikes[layer] != ours.traces[layer]).sum()) == 0, f"{layer} ({dtype})"
        assert np.array_equal(output, ours.output)


def test_norse_refuses_what_it_would_run_differently(lowered_and_inputs, tmp_path):
    lowered, x = lowered_and_inputs
    write_nir(prefix(lowered, "sps.stages.3.pool", flatten=False), tmp_path / "pool.nir")
    with pytest.raises(UnsupportedError, match="node 'sps.stages.3.pool': norse has no Threshold"):
        run_norse(nir.read(tmp_path / "pool.nir"), x)
    graph = prefix(lowered, "sps.stages.0.lif", flatten=False)
    lif = graph.nodes["sps.stages.0.lif"]
    write_nir(graph.replace(nodes={**graph.nodes, "sps.stages.0.lif": lif.replace(r=lif.r * 2)}), tmp_path / "r.nir")
    with pytest.raises(UnsupportedError, match="node 'sps.stages.0.lif': norse ignores r and v_reset"):
        run_norse(nir.read(tmp_path / "r.nir"), x)


def test_the_nir_pipeline_gives_a_standard_file_that_norse_runs_with_the_same_spikes(tmp_path):
    model, meta = load_model(CHECKPOINT)
    traced = trace(model, model.input_shape, fold_bn=False)
    standard, _ = run_pipeline(traced, pipeline("nir"))
    assert {node.op for node in standard.nodes.values()} <= NIR_OPS - {"Threshold", "Scale"}
    write_nir(standard, tmp_path / "std.nir")
    assert (tmp_path / "std.nir").stat().st_size < 16e6  # dense kron(I_16, W) weights, stored float64 compressed
    x = load_digits_split()[2][:32].numpy()
    x = np.broadcast_to(x, (meta["T"],) + x.shape)
    lifs = tuple(k for k in traced.order if traced.nodes[k].op in ("LIF", "MaxPool2d"))
    assert all(standard.nodes[k].op == "LIF" for k in lifs) and len(lifs) == 9
    output, spikes = run_norse(nir.read(tmp_path / "std.nir"), x, record=lifs)
    layouts = standard.metadata["layouts"]
    for dtype in (torch.float32, torch.float64):
        ours = simulate(traced, x, dtype=dtype, trace=lifs)
        for layer in lifs:
            expected = ours.traces[layer].reshape(*x.shape[:2], -1)
            expected = expected[..., np.asarray(layouts[layer])] if layer in layouts else expected
            assert expected.mean() > 0.01, f"{layer} is silent: the test would be vacuous"
            assert int((spikes[layer].reshape(expected.shape) != expected).sum()) == 0, f"{layer} ({dtype})"
        assert np.abs(output - ours.output).max() < 1e-4


def test_norse_refuses_an_execution_order_that_would_read_a_previous_step(tmp_path):
    """Two branches that rejoin: nirtorch's depth-first executor reaches the join before the second branch."""
    def lif() -> n.LIF:
        return n.LIF(tau=2.0, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    nodes = {"input": n.Input(type=TensorType((3,))),
             "fa": n.Affine(weight=np.eye(3), bias=np.zeros(3)), "la": lif(),
             "fb": n.Affine(weight=np.eye(3), bias=np.zeros(3)), "lb": lif(),
             "join": n.Affine(weight=np.eye(3), bias=np.zeros(3)), "output": n.Output()}
    edges = [Edge("input", "fa"), Edge("fa", "la"), Edge("input", "fb"), Edge("fb", "lb"), Edge("la", "join"),
             Edge("lb", "join"), Edge("join", "output")]
    write_nir(Graph(nodes, edges), tmp_path / "join.nir")
    with pytest.raises(UnsupportedError, match="norse's executor runs 'join' before its source"):
        run_norse(nir.read(tmp_path / "join.nir"), np.ones((2, 1, 3)))
