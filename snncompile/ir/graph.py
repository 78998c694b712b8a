"""The graph: named nodes, edges into named ports, and the simulation step ``dt``.

A graph describes ONE time step of ONE sample; the time loop and the batch are outside it. Every edge carries the
source's output at the same step; the past is reached through neuron state, Delay nodes and Previous nodes. A
Previous node's output is the previous step's input, known when the step starts, so edges into it do not order the
step: a cycle through a Previous node is recurrence (NIR's cycles, docs/semantics.md). Any other cycle is an error.
Edges into the same port are summed, in edge order. Graphs are immutable: rewriting returns a new graph. Two graphs
are equal when their nodes (in order), dt, metadata and the sources of every port, in order (sums run in edge
order), are; the order of edges into different ports does not matter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Iterable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Any

import networkx as nx
import numpy as np

from snncompile.errors import IRError
from snncompile.ir.node import Node
from snncompile.ir.nodes import Input, Output, Previous
from snncompile.ir.nodes.structure import summed_type
from snncompile.ir.types import TensorType


@dataclasses.dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    port: str = "input"


@dataclasses.dataclass(frozen=True, eq=False)
class Graph:
    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...]
    dt: float = 1.0
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))
        object.__setattr__(self, "edges", tuple(self.edges))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        object.__setattr__(self, "dt", float(self.dt))

    # -- structure -------------------------------------------------------------------------------------------
    @cached_property
    def nx(self) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph()
        g.add_nodes_from(self.nodes)
        for e in self.edges:
            g.add_edge(e.src, e.dst, port=e.port)
        return g

    @property
    def previous(self) -> list[str]:
        """The Previous nodes: where cycles are closed."""
        return [n for n, node in self.nodes.items() if isinstance(node, Previous)]

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Step order: topological over the edges that do not enter a Previous node; ties broken by insertion
        order, so the order is deterministic."""
        rank = {name: i for i, name in enumerate(self.nodes)}
        cut = set(self.previous)
        step = nx.MultiDiGraph()
        step.add_nodes_from(self.nodes)
        step.add_edges_from((e.src, e.dst) for e in self.edges if e.dst not in cut)
        try:
            return tuple(nx.lexicographical_topological_sort(step, key=rank.__getitem__))
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(step)
            raise IRError(cycle[0][0], "the graph has a cycle that no Previous node closes: "
                          + " -> ".join(str(e[0]) for e in cycle + [cycle[0]])
                          + "; a recurrent edge must pass through a Previous node (NIR files get one on reading)"
                          ) from None

    def closes_cycle(self, previous: str) -> bool:
        """Whether every source -> consumer pair through Previous node ``previous`` lies on a cycle (what an NIR
        edge can say), i.e. each consumer reaches each source."""
        srcs = self.sources(previous).get("input", [])
        return all(nx.has_path(self.nx, c, s) for c in self.consumers(previous) for s in srcs)

    @cached_property
    def _in(self) -> dict[str, dict[str, list[str]]]:
        table: dict[str, dict[str, list[str]]] = {n: {} for n in self.nodes}
        for e in self.edges:
            table.setdefault(e.dst, {}).setdefault(e.port, []).append(e.src)
        return table

    def sources(self, name: str) -> dict[str, list[str]]:
        """Port name -> the nodes whose outputs are summed into it."""
        return self._in.get(name, {})

    def consumers(self, name: str) -> list[str]:
        return sorted({e.dst for e in self.edges if e.src == name}, key=list(self.nodes).index)

    @property
    def inputs(self) -> list[str]:
        return [n for n, node in self.nodes.items() if isinstance(node, Input)]

    @property
    def outputs(self) -> list[str]:
        return [n for n, node in self.nodes.items() if isinstance(node, Output)]

    # -- types -----------------------------------------------------------------------------------------------
    @cached_property
    def types(self) -> Mapping[str, TensorType]:
        """Output type of every node, inferred in topological order; raises IRError on the first mismatch."""
        out: dict[str, TensorType] = {}
        for name in self.order:
            node = self.nodes[name]
            if isinstance(node, Previous):  # declared: its input comes later in the step (the verifier checks it)
                out[name] = node.type
                continue
            ports = {p: summed_type([out[s] for s in srcs], name, p) for p, srcs in self.sources(name).items()}
            missing = [p for p in node.ports if p not in ports]
            if missing:
                raise IRError(name, f"{node.op} port(s) {missing} have no incoming edge")
            out[name] = node.output_type(ports, name)
        return MappingProxyType(out)

    def port_types(self, name: str) -> dict[str, TensorType]:
        return {p: summed_type([self.types[s] for s in srcs], name, p) for p, srcs in self.sources(name).items()}

    # -- rewriting -------------------------------------------------------------------------------------------
    def replace(self, *, nodes: Mapping[str, Node] | None = None, edges: Iterable[Edge] | None = None,
                **changes: Any) -> Graph:
        return dataclasses.replace(self, nodes=self.nodes if nodes is None else nodes,
                                   edges=tuple(self.edges if edges is None else edges), **changes)

    def with_node(self, name: str, node: Node) -> Graph:
        return self.replace(nodes={**self.nodes, name: node})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (list(self.nodes) == list(other.nodes) and all(self.nodes[n] == other.nodes[n] for n in self.nodes)
                and self._in == other._in and self.dt == other.dt and _same_tree(self.metadata, other.metadata))

    __hash__ = None  # type: ignore[assignment]


def _same_tree(a: Any, b: Any) -> bool:
    """Equality of metadata trees whose leaves may be numpy arrays."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same_tree(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def fresh_name(taken: Container[str], base: str) -> str:
    """``base``, or ``base`` with underscores appended until no node in ``taken`` has that name."""
    name = base
    while name in taken:
        name += "_"
    return name


class FreshNames:
    """The names a rewrite gives the nodes it creates: ``fresh(base)`` is ``fresh_name`` over ``taken`` (usually
    the input graph's nodes) and every name this object handed out before, so two nodes created in the same rewrite
    never get the same name, and none gets the name of a node in ``taken``."""

    def __init__(self, taken: Iterable[str]) -> None:
        self._taken = set(taken)

    def __call__(self, base: str) -> str:
        name = fresh_name(self._taken, base)
        self._taken.add(name)
        return name
