"""What SpikingJelly's op counter and NeuroBench count, node by node, from a simulation's recorded activity: the
figures behind the ``spikingjelly`` and ``neurobench`` conventions (conventions.py; docs/energy.md, "Paper
conventions"). Each rule restates the tool's own code on the IR node that computes the same operation.

SpikingJelly 2.0 (``op_counter.SynOpCounter`` and ``MACCounter`` under ``DispatchCounterMode``), per call of a
product ``x @ W`` (a convolution, a linear layer, a matrix product), with "binary" meaning every element is exactly
0 or 1 (decided once per call: a multi-step model makes one call for all T steps and the batch):

* x and W binary: SynOps = the product's sum (events x the non-zero fan-out);
* x binary: SynOps = events x the fan-out of **every** weight (a linear layer: its output width; a convolution:
  the exact border taps of an all-ones kernel); W binary: SynOps = non-zero weights x output positions;
* neither: MACs = the dense product (``k^2 x h_out x w_out x c_in x c_out``, padding taps included);
* a SpikeMatMul ``a @ b``: both binary: the coincidences; one binary: its events x the other's rows
  (``a`` binary: x the columns of ``b``; ``b`` binary: x the rows of ``a``), whatever values they meet; neither:
  MACs = the dense product;
* a BatchNorm left in the graph (``export --no-fold-bn``, ``energy --no-lower``): one MAC per element (count.py);
* a node after the readout ``x.mean(0)`` (graph metadata ``after_readout``) runs once on the time average, not at
  every step.

NeuroBench 2.3 (``SynapticOperations``, ``MembraneUpdates``, ``ConnectionSparsity``, ``Footprint``) sees the
Linear and Conv layers (here Affine, Linear, Conv1d, Conv2d) once per step, "spiking" meaning every element is in
{-1, 0, 1}: effective operations = non-zero inputs x non-zero weights (bias left out) as ACs for a spiking call,
MACs otherwise; dense = every input position x every weight; a neuron's membrane update = its state changed, every
neuron counted at the first step.

The binary tests are the simulator's counters (sim/counters.py), summed over the batches of a run: a run
simulated as one batch decides exactly as the tool does on that batch.
"""

from __future__ import annotations

import numpy as np

from snncompile.energy.fanout import fanout
from snncompile.energy.flops import WEIGHTED, matmul_flops, paper_flops
from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.sim.activity import Activity


def _binary(act: Activity, name: str, port: str, key: str = "nonbinary") -> bool:
    """Every element of ``port``'s input in {0, 1} (``nonternary``: in {-1, 0, 1}) over the whole run."""
    off = act.counts.get(name, {}).get(f"{key}.{port}")
    return off is None or not off.any()


def _is_01(w: np.ndarray) -> bool:
    return bool(np.isin(w, (0.0, 1.0)).all())


def _spikingjelly_weighted(graph: Graph, name: str, act: Activity, fan: np.ndarray, full: np.ndarray
                           ) -> dict[str, float]:
    node = graph.nodes[name]
    assert isinstance(node, WEIGHTED)  # tool_values dispatches here on it
    events = act.events[name]["input"]
    x01, w01 = _binary(act, name, "input"), _is_01(node.weight)
    if x01 and w01:
        return {"sj_synops": float((events * fan).sum())}
    if x01:
        return {"sj_synops": float((events * full).sum())}
    positions = graph.types[name].size // int(node.weight.shape[0]) * act.steps * act.samples
    if w01:
        return {"sj_synops": float(np.count_nonzero(node.weight)) * positions}
    return {"sj_macs": float(paper_flops(graph, name)) * act.steps * act.samples}


def _spikingjelly_matmul(graph: Graph, name: str, act: Activity) -> dict[str, float]:
    a01, b01 = _binary(act, name, "a"), _binary(act, name, "b")
    rows, cols = graph.types[name].shape[-2:]
    if a01 and b01:
        return {"sj_synops": float(act.counts[name]["coincidences"].sum())}
    if a01:
        return {"sj_synops": float(act.events[name]["a"].sum()) * cols}
    if b01:
        return {"sj_synops": float(act.events[name]["b"].sum()) * rows}
    return {"sj_macs": float(matmul_flops(graph, name)) * act.steps * act.samples}


def _neurobench_weighted(graph: Graph, name: str, act: Activity, fan: np.ndarray, full: np.ndarray
                         ) -> dict[str, float]:
    node = graph.nodes[name]
    assert isinstance(node, WEIGHTED)  # tool_values dispatches here on it
    ops = (act.events[name]["input"] * fan).reshape(act.steps, -1).sum(1)
    off = act.counts.get(name, {}).get("nonternary.input")
    spiking = np.ones(act.steps, bool) if off is None else off == 0
    dense = float(full.sum()) * act.steps * act.samples
    bias = 0 if isinstance(node, n.Linear) else node.bias.size
    return {"nb_acs": float(ops[spiking].sum()), "nb_macs": float(ops[~spiking].sum()), "nb_dense": dense,
            "nb_parameters": float(node.weight.size + bias), "nb_weights": float(node.weight.size),
            "nb_zero_weights": float(node.weight.size - np.count_nonzero(node.weight))}


def tool_values(graph: Graph, name: str, act: Activity, fan: np.ndarray | None = None) -> dict[str, float]:
    """The tools' counts of node ``name`` per sample (``nb_parameters``, ``nb_weights``, ``nb_zero_weights``:
    static); ``fan``: its non-zero fan-out (fanout.py) if it is synapse-like."""
    node = graph.nodes[name]
    if isinstance(node, WEIGHTED) and fan is not None:
        full = fanout(node, name, graph.port_types(name)["input"], all_weights=True)
        values = {**_spikingjelly_weighted(graph, name, act, fan, full),
                  **_neurobench_weighted(graph, name, act, fan, full)}
    elif isinstance(node, n.SpikeMatMul):
        values = _spikingjelly_matmul(graph, name, act)
    elif isinstance(node, n.NEURONS) and "changed" in act.counts.get(name, {}):
        values = {"nb_membrane_updates": float(act.counts[name]["changed"].sum())}
    else:
        return {}
    once = name in graph.metadata.get("after_readout", ())
    static = ("nb_parameters", "nb_weights", "nb_zero_weights")
    for key in values:
        if key not in static:
            values[key] /= act.samples * (act.steps if once and key.startswith("sj_") else 1)
    return values
