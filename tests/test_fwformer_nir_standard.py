"""The digits FWformer after the cpu pipeline, written as NIR, read by stock ``nir.read`` and run by norse.

Only the primitive prefix (the SPS convolutions and their LIFs, then a Flatten) is standard NIR today; the rest keeps
extension nodes (see the report in docs/nir.md, "Running in norse"). On that prefix norse, with the shims of
snncompile.ir.nir_norse, gives the same spikes as snncompile at every step of every LIF."""

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from snncompile.errors import UnsupportedError
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import write_nir
from snncompile.ir.nir_norse import run_norse
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
