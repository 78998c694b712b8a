"""Recurrence: closing a graph's cycles with Previous nodes, and keeping their declared types right.

NIR writes recurrence as a plain cycle of edges; the edge that closes a cycle carries its source's value of the
previous step (zero at the first step). Which edge closes a cycle is fixed by a depth-first search, the rule NIR's
simulators apply when they run such a graph (nirtorch's executor, which norse and snnTorch use, runs nodes in
depth-first order from the input and feeds a source not yet computed in this step from the previous step):

* start from the Input nodes in node order, then from every node not reached yet, in node order;
* follow a node's outgoing edges in edge order (the order of the file);
* an edge to a node still on the search path closes a cycle (a back edge of the search).

Each source of such an edge gets one Previous node (``<source>.prev``) and its closing edges leave from it. Removing
back edges leaves no cycle, so the result always has a step order. Edges into existing Previous nodes are already
cut and are not followed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from snncompile.errors import IRError
from snncompile.ir.graph import Edge, Graph, fresh_name
from snncompile.ir.node import Node
from snncompile.ir.nodes import Input, Previous
from snncompile.ir.types import TensorType


def back_edges(names: Sequence[str], inputs: Sequence[str], pairs: Sequence[tuple[str, str]],
               cut: Collection[str] = ()) -> list[int]:
    """Indices into ``pairs`` (source, destination) of the edges that close a cycle, by the depth-first rule above:
    ``names`` in node order, ``inputs`` the Input nodes; edges into ``cut`` (Previous nodes) are not followed."""
    succ: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
    for i, (src, dst) in enumerate(pairs):
        if dst not in cut:
            succ[src].append((i, dst))
    state = dict.fromkeys(names, 0)  # 0: not reached, 1: on the search path, 2: done
    closing: list[int] = []
    roots = [*inputs, *names]
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        path = [(root, iter(succ[root]))]
        while path:
            node, todo = path[-1]
            step = next(todo, None)
            if step is None:
                state[node] = 2
                path.pop()
                continue
            i, dst = step
            if state[dst] == 1:
                closing.append(i)
            elif state[dst] == 0:
                state[dst] = 1
                path.append((dst, iter(succ[dst])))
    return sorted(closing)


def close_cycles(nodes: Mapping[str, Node], edges: list[Edge], placeholders: Collection[str] = ()
                 ) -> tuple[dict[str, Node], list[Edge]]:
    """``nodes`` and ``edges`` with a Previous node on every edge that closes a cycle, its type derived from its
    source, as for the Previous nodes named in ``placeholders`` (untyped yet). Raises IRError for a node that only
    a cycle feeds (nothing gives it a shape)."""
    cut = {n for n, node in nodes.items() if isinstance(node, Previous)}
    inputs = [n for n, node in nodes.items() if isinstance(node, Input)]
    closing = back_edges(list(nodes), inputs, [(e.src, e.dst) for e in edges], cut)
    if not closing and not placeholders:
        return dict(nodes), list(edges)
    out_nodes, out_edges = dict(nodes), list(edges)
    prev: dict[str, str] = {}
    for i in closing:
        src = edges[i].src
        if src not in prev:
            prev[src] = fresh_name(out_nodes, f"{src}.prev")
            out_nodes[prev[src]] = Previous(type=TensorType(()))  # typed below
        out_edges[i] = dataclasses.replace(edges[i], src=prev[src])
    first = {src: min(i for i in closing if edges[i].src == src) for src in prev}
    for src, at in sorted(first.items(), key=lambda item: item[1], reverse=True):
        out_edges.insert(at, Edge(src, prev[src]))
    return derive_types(out_nodes, out_edges, set(prev.values()) | set(placeholders))


def derive_types(nodes: dict[str, Node], edges: list[Edge], fresh: set[str]) -> tuple[dict[str, Node], list[Edge]]:
    """Give the Previous nodes in ``fresh`` (placeholders) the type of their input: first from the graph without the
    edges they close, then settled over the whole graph (a recurrent sum can change a port's kind)."""
    source = {e.dst: e.src for e in edges if e.dst in fresh}
    open_edges = [e for e in edges if e.src not in fresh and e.dst not in fresh]
    fed = {(e.dst, e.port) for e in open_edges}
    for e in edges:
        if e.src in fresh and (e.dst, e.port) not in fed and not isinstance(nodes[e.dst], Previous):
            raise IRError(e.dst, f"port '{e.port}' is fed only through a cycle (from '{source[e.src]}'); a node needs "
                          "an edge from outside its cycle to give it a shape")
    acyclic = Graph({k: v for k, v in nodes.items() if k not in fresh}, tuple(open_edges))
    typed = {k: Previous(type=acyclic.types[source[k]]) if k in fresh else v for k, v in nodes.items()}
    return dict(retype_previous(Graph(typed, tuple(edges))).nodes), edges


def retype_previous(graph: Graph) -> Graph:
    """``graph`` with every Previous node's declared type equal to the type on its input (a pass may change what a
    cycle carries); ``graph`` itself if nothing changes. Kinds only grow along sums, so this settles."""
    names = graph.previous
    for _ in range(len(names) + 2):
        changed = {n: Previous(type=t) for n, node in graph.nodes.items()
                   if isinstance(node, Previous) and (t := graph.port_types(n)["input"]) != node.type}
        if not changed:
            return graph
        graph = graph.replace(nodes={**graph.nodes, **changed})
    raise IRError(names[0], "the types carried around the cycle do not settle")
