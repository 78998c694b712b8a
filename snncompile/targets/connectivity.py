"""Who connects to whom in an IR graph, per neuron: what the core mapper (``snncompile.targets.mapping``) counts.

A **layer** is a set of compartments a core holds: a neuron node (LIF, IF, ..., Threshold, LoihiLIF), or a synapse
whose output reaches something other than a neuron (a readout or relay: one compartment per output element, which
accumulates it). A layer's input is a sum of **terms**; a term is a synapse node (Affine, Linear, Conv1d/2d,
SumPool2d, AvgPool2d, LoihiDense, LoihiConv2d: its non-zero weights are the synapses) or, where a neuron is fed
without one (a SpikeMatMul product, an element-wise Scale of spikes), the identity (one synapse per neuron). Between
a term and its layer, and between a term and its sources, lie only **transparent** nodes, whose element maps are
followed exactly: data movement (Reshape, Flatten, Transpose, Slice, Concat), sums (Add, edges summed into a port),
element-wise scaling (Scale, BatchNorm) and delays (Delay, Previous: recurrence). A term's **sources** are the
layers, graph inputs and off-core nodes (any other op, e.g. SpikeMatMul, Mean: not placed on neuron cores) whose
elements reach its input; a presynaptic neuron is one (source, element) pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.targets.kernels import Identity, Kernel, kernel_of

NEURON_OPS = frozenset({"I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "Threshold", "LoihiLIF"})
SYNAPSE_OPS = frozenset({"Affine", "Linear", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "LoihiDense",
                         "LoihiConv2d"})
TRANSPARENT_OPS = frozenset({"Reshape", "Flatten", "Transpose", "Slice", "Concat", "Add", "Scale", "BatchNorm",
                             "Delay", "Previous"})
BOUNDARY_OPS = frozenset({"Input", "Output"})

Origin = tuple[str, np.ndarray]
"""A node whose output reaches a port, and for each element of the port the flat index of the element of that
node's output summed into it (-1: none)."""


@dataclass(frozen=True)
class Term:
    kernel: Kernel
    name: str  # the synapse node, or the source of an identity term
    out_index: np.ndarray  # per neuron of the layer: the flat index of the kernel output feeding it, -1 none
    sources: tuple[Origin, ...]  # per kernel input element: the source element it reads


@dataclass(frozen=True)
class Layer:
    name: str
    op: str  # the neuron op, or "readout" for a synapse's own compartments
    size: int
    terms: tuple[Term, ...]


def _moved(node: n.Node, idx: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """The element map after the data-movement (or element-wise) node ``node``."""
    if isinstance(node, n.Transpose):
        return idx.transpose(node.perm)
    if isinstance(node, n.Slice):
        return np.take(idx, range(node.start, node.stop), axis=node.axis)
    return idx.reshape(out_shape)


class _Origins:
    """Memoised origins of every node's output and port."""

    def __init__(self, graph: Graph, stops: Callable[[str], bool]):
        self.graph, self.stops = graph, stops
        self.memo: dict[str, list[Origin]] = {}
        self.open: set[str] = set()  # nodes being traced: a cycle of transparent nodes only stops where it closes

    def port(self, name: str, port: str = "input") -> list[Origin]:
        return [o for src in self.graph.sources(name).get(port, []) for o in self.of(src)]

    def of(self, name: str) -> list[Origin]:
        if name in self.memo:
            return self.memo[name]
        node, shape = self.graph.nodes[name], self.graph.types[name].shape
        if self.stops(name) or name in self.open:
            return [(name, np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape))]
        self.open.add(name)
        if isinstance(node, n.Concat):
            a, b = (self.graph.port_types(name)[p].shape for p in ("a", "b"))
            axis = node.axis % len(shape)
            found = [(src, np.concatenate([idx, np.full(b, -1)], axis)) for src, idx in self.port(name, "a")]
            found += [(src, np.concatenate([np.full(a, -1), idx], axis)) for src, idx in self.port(name, "b")]
        else:
            found = [(src, _moved(node, idx, shape)) for src, idx in self.port(name)]
        self.open.discard(name)
        self.memo[name] = found
        return found


def _relays(graph: Graph, origins: _Origins) -> set[str]:
    """Synapses whose output reaches a node other than a neuron: they get compartments of their own."""
    readers = [name for name, node in graph.nodes.items() if node.op not in NEURON_OPS | TRANSPARENT_OPS]
    return {src for name in readers for port in graph.nodes[name].ports for src, _ in origins.port(name, port)
            if graph.nodes[src].op in SYNAPSE_OPS}


def layers(graph: Graph) -> tuple[list[Layer], list[str]]:
    """The layers in step order, and the off-core nodes (neither layer, synapse, transparent nor boundary)."""
    origins = _Origins(graph, lambda name: graph.nodes[name].op not in TRANSPARENT_OPS)
    relays = _relays(graph, origins)

    def sources_of(synapse: str) -> tuple[Origin, ...]:
        return tuple((src, idx.reshape(-1)) for src, idx in origins.port(synapse))

    def term(src: str, idx: np.ndarray) -> Term:
        flat = idx.reshape(-1)
        if graph.nodes[src].op in SYNAPSE_OPS:
            return Term(kernel_of(graph, src), src, flat, sources_of(src))
        size = int(np.prod(graph.types[src].shape))
        return Term(Identity(size), src, flat, ((src, np.arange(size, dtype=np.int64)),))

    found = []
    for name in graph.order:
        node, size = graph.nodes[name], int(np.prod(graph.types[name].shape))
        if node.op in NEURON_OPS:
            found.append(Layer(name, node.op, size, tuple(term(src, idx) for src, idx in origins.port(name))))
        elif name in relays:
            own = np.arange(size, dtype=np.int64)
            found.append(Layer(name, "readout", size, (Term(kernel_of(graph, name), name, own, sources_of(name)),)))
    placed = NEURON_OPS | SYNAPSE_OPS | TRANSPARENT_OPS | BOUNDARY_OPS
    return found, [name for name, node in graph.nodes.items() if node.op not in placed]
