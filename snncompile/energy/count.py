"""Operation counts per node from a simulation's recorded activity (never from assumed rates).

Per sample (totals over the recorded batch divided by the number of samples), for every node that costs
something on a chip:

* synapse-like nodes (Affine, Linear, Conv, pooling, fixed sums): ``input_positions`` (input elements x steps),
  ``input_events`` (non-zero inputs) and
  ``events x fan-out`` (fanout.py) filed by the kind of the input: binary -> ``synops`` (accumulates); graded
  (integer counts) -> ``graded_ops`` (one operation per event and target) and ``graded_payload`` (value x fan-out:
  the accumulates if a count k is sent as k spikes); real -> ``macs``. ``dense_macs``: every input position x
  fan-out at every step, what a non-spiking network of the same shape computes (the ANN equivalent);
* SpikeMatMul: ``coincidences`` (pairs of non-zero operand entries that meet) as synops, or graded ops and
  payload if an operand is graded (a real operand, e.g. a batch-norm output, is what the other's events select: it
  adds no kind of its own); ``input_events`` / ``input_positions`` are the first operand's (its rate is the ``fr``
  of the papers' formula); ``dense_macs`` = the product's multiply-adds;
* SpikeMask / TokenMask: ``mask_ops`` = events arriving at the gated input; TokenMask also ``live_tokens`` per step;
* TokenMerge: ``macs`` = the similarity products (``N/2 x N/2 x D`` per step) it computes on real values (once per
  merge: the ``flags`` twin shares the selection);
* neurons: ``neuron_updates`` (every neuron, every step), ``active_updates`` (those with a non-zero input),
  ``spikes`` and the firing rate per step.

Elementwise nodes (BatchNorm, Scale, Add, structure) are not counted: the targets' pipelines fold them (the
elements of a BatchNorm left in the graph are kept in ``Counts.sources`` for SpikingJelly's convention).

Beside the exact counts, every layer carries ``flops`` (the papers' FLOPs formula over all steps, flops.py) and
``sources`` (what SpikingJelly's op counter and NeuroBench count on it, sources.py): the figures of the paper and
tool conventions (conventions.py), which count differently on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snncompile.energy.fanout import FANOUT_NODES, fanout
from snncompile.energy.flops import matmul_flops, paper_flops
from snncompile.energy.sources import tool_values
from snncompile.errors import UnsupportedError
from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.ir.stats import node_stats
from snncompile.ir.types import Kind
from snncompile.sim.activity import Activity

FIELDS = ("neurons", "synapses", "input_positions", "input_events", "synops", "graded_ops", "graded_payload", "macs",
          "dense_macs", "mask_ops", "neuron_updates", "active_updates", "spikes")
MASKS = (n.SpikeMask, n.TokenMask)


@dataclass
class LayerCount:
    name: str
    op: str
    input_kind: str = ""
    first: bool = False  # takes the network's real-valued input
    classifier: bool = False  # reaches an Output without passing a neuron
    values: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0.0))
    synops_per_step: list[float] = field(default_factory=list)
    rate_per_step: list[float] = field(default_factory=list)
    live_tokens: list[float] = field(default_factory=list)
    flops: float = 0.0  # the papers' FLOPs formula, per sample over all steps (flops.py)
    sources: dict[str, float] = field(default_factory=dict)  # other tools' counts (sources.py)

    @property
    def firing_rate(self) -> float:
        v = self.values
        return v["spikes"] / v["neuron_updates"] if v["neuron_updates"] else 0.0

    @property
    def input_rate(self) -> float:
        """Mean non-zero inputs per input position per step (fr of the papers' ``fr x T x FLOPs``)."""
        v = self.values
        return v["input_events"] / v["input_positions"] if v["input_positions"] else 0.0


@dataclass
class Counts:
    steps: int
    samples: int
    layers: list[LayerCount]
    sources: dict[str, float] = field(default_factory=dict)  # graph-wide: ``sj_batchnorm_macs`` per sample

    def total(self, key: str) -> float:
        return sum(layer.values[key] for layer in self.layers)

    def totals(self) -> dict[str, float]:
        return {key: self.total(key) for key in FIELDS}

    def per_step(self, key: str = "synops_per_step") -> list[float]:
        rows = [getattr(layer, key) for layer in self.layers if getattr(layer, key)]
        return [float(x) for x in np.sum(rows, axis=0)] if rows else [0.0] * self.steps


def _predecessors(graph: Graph, name: str) -> list[str]:
    return [s for srcs in graph.sources(name).values() for s in srcs]


def is_first(graph: Graph, name: str) -> bool:
    """Whether ``name`` takes a graph input directly (the network's first layer)."""
    return any(src in graph.inputs for src in _predecessors(graph, name))


def classifiers(graph: Graph) -> set[str]:
    """Nodes from which an Output is reached without passing a neuron."""
    found: set[str] = set()
    todo = list(graph.outputs)
    while todo:
        name = todo.pop()
        for src in _predecessors(graph, name):
            if src not in found and not isinstance(graph.nodes[src], n.NEURONS):
                found.add(src)
                todo.append(src)
    return found


def _file(layer: LayerCount, kind: Kind, ops: float, payload: float) -> None:
    key = {Kind.BINARY: "synops", Kind.GRADED: "graded_ops", Kind.REAL: "macs"}[kind]
    layer.values[key] += ops
    if kind == Kind.GRADED:
        layer.values["graded_payload"] += payload


def _synapse_like(graph: Graph, name: str, act: Activity, layer: LayerCount, fan: np.ndarray) -> None:
    t = graph.port_types(name)["input"]
    events = act.events[name]["input"]
    per_step = (events * fan).reshape(act.steps, -1).sum(1)
    payload = act.counts.get(name, {}).get("payload.input")
    _file(layer, t.kind, float(per_step.sum()), 0.0 if payload is None else float((payload * fan).sum()))
    layer.values["input_events"] += float(events.sum())
    layer.values["dense_macs"] += float(fan.sum()) * act.steps * act.samples
    layer.values["input_positions"] = float(t.size) * act.steps * act.samples
    layer.input_kind = t.kind.value
    if t.kind != Kind.REAL:
        layer.synops_per_step = [float(x) for x in per_step]


def _matmul(graph: Graph, name: str, act: Activity, layer: LayerCount) -> None:
    types, counts = graph.port_types(name), act.counts[name]
    kinds = {types["a"].kind, types["b"].kind}
    coinc = counts["coincidences"]
    kind = Kind.GRADED if Kind.GRADED in kinds else Kind.BINARY  # a real operand is selected by the other's events
    _file(layer, kind, float(coinc.sum()), float(counts["coincidence_payload"].sum()) if kind == Kind.GRADED else 0)
    layer.values["input_events"] += float(act.events[name]["a"].sum())  # the first operand's, like input_positions
    layer.values["dense_macs"] += float(matmul_flops(graph, name)) * act.steps * act.samples
    layer.values["input_positions"] = float(types["a"].size) * act.steps * act.samples
    layer.input_kind = "real" if Kind.REAL in kinds else kind.value
    layer.synops_per_step = [float(x) for x in coinc.reshape(act.steps, -1).sum(1)]


def _mask(graph: Graph, name: str, act: Activity, layer: LayerCount) -> None:
    layer.values["mask_ops"] += float(act.events[name]["input"].sum())
    layer.input_kind = graph.port_types(name)["input"].kind.value
    if isinstance(graph.nodes[name], n.TokenMask):
        live = act.events[name]["mask"].reshape(act.steps, -1).sum(1) / act.samples
        layer.live_tokens = [float(x) for x in live]


def _merge(graph: Graph, name: str, act: Activity, layer: LayerCount) -> None:
    """The similarity products, counted once: a ``flags`` node repeats the selection of its ``tokens`` twin."""
    tokens, dim = graph.port_types(name)["input"].shape
    node = graph.nodes[name]
    assert isinstance(node, n.TokenMerge)  # count_graph dispatches here on it
    if node.result == "tokens":
        layer.values["macs"] += float((tokens // 2) * (tokens - tokens // 2) * dim) * act.steps * act.samples
    layer.input_kind = graph.port_types(name)["input"].kind.value


def _neuron(graph: Graph, name: str, act: Activity, layer: LayerCount) -> None:
    size = graph.types[name].size
    layer.values["neuron_updates"] += float(size) * act.steps * act.samples
    layer.values["active_updates"] += float(act.counts[name]["inputs"].sum())
    if name in act.spikes:
        layer.values["spikes"] += float(act.spikes[name].sum())
        layer.rate_per_step = [float(x) for x in act.rate_per_step(name)]


def count(graph: Graph, act: Activity) -> Counts:
    """Counts per node (per sample) of the graph that produced ``act``."""
    stats = {s.name: s for s in node_stats(graph)}
    heads = classifiers(graph)
    layers = []
    batchnorm = 0.0
    for name in graph.order:
        node = graph.nodes[name]
        layer = LayerCount(name, node.op, classifier=name in heads)
        layer.first = is_first(graph, name)
        fan = fanout(node, name, graph.port_types(name)["input"]) if isinstance(node, FANOUT_NODES) else None
        if isinstance(node, n.BatchNorm):
            batchnorm += float(graph.types[name].size) * act.steps
        if fan is not None:
            _synapse_like(graph, name, act, layer, fan)
        elif isinstance(node, n.SpikeMatMul):
            _matmul(graph, name, act, layer)
        elif isinstance(node, MASKS):
            _mask(graph, name, act, layer)
        elif isinstance(node, n.TokenMerge):
            _merge(graph, name, act, layer)
        elif isinstance(node, n.NEURONS):
            _neuron(graph, name, act, layer)
        elif node.events:
            raise UnsupportedError(f"node '{name}' ({node.op}) has no counting rule: lower the graph first "
                                   f"(snncompile compile --target cpu)")
        else:
            continue
        layer.values["neurons"] = float(stats[name].neurons)
        layer.values["synapses"] = float(stats[name].synapses)
        for key in layer.values:
            if key not in ("neurons", "synapses"):
                layer.values[key] /= act.samples
        layer.synops_per_step = [x / act.samples for x in layer.synops_per_step]
        layer.flops = float(paper_flops(graph, name)) * act.steps
        layer.sources = tool_values(graph, name, act, fan)
        layers.append(layer)
    return Counts(act.steps, act.samples, layers, {"sj_batchnorm_macs": batchnorm})
