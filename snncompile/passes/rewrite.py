"""Rewriting steps that several passes share: dropping dead nodes, putting a chain of nodes in the place of one, and
dividing a LIF's potentials by the scale folded into it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise

import numpy as np

from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.node import Node


def _not_io(name: str, node: Node) -> bool:
    return not isinstance(node, n.Input | n.Output)


def prune(graph: Graph, removable: Callable[[str, Node], bool] = _not_io) -> Graph:
    """``graph`` without its dead nodes: a node stays when it is not ``removable`` (by default: every node but the
    Inputs and Outputs is) or when it feeds a node that stays, directly or through others (a cycle through a
    Previous node included); the edges of the nodes that go, go too. Nodes and edges keep their order."""
    live = {k for k, v in graph.nodes.items() if not removable(k, v)}
    todo = list(live)
    while todo:
        for sources in graph.sources(todo.pop()).values():
            found = set(sources) - live
            live |= found
            todo += found
    return graph.replace(nodes={k: v for k, v in graph.nodes.items() if k in live},
                         edges=[e for e in graph.edges if e.src in live and e.dst in live])


def splice_chains(graph: Graph, chains: Mapping[str, Sequence[tuple[str, Node]]]) -> Graph:
    """``graph`` with each node ``name`` of ``chains`` replaced by its chain ``[(name_1, node_1), ..., (name,
    node_k)]`` (the last keeps the name): the chain's nodes stand where ``name`` stood, each feeds the next, the
    edges into ``name`` enter the first (same ports) and the edges out of ``name`` leave the last."""
    nodes: dict[str, Node] = {}
    for name, node in graph.nodes.items():
        nodes.update(chains.get(name, [(name, node)]))
    first = {name: chain[0][0] for name, chain in chains.items()}
    edges = [Edge(e.src, first.get(e.dst, e.dst), e.port) for e in graph.edges]
    edges += [Edge(a, b) for chain in chains.values() for (a, _), (b, _) in pairwise(chain)]
    return graph.replace(nodes=nodes, edges=edges)


def divide_potentials(lif: n.LIF, scale: float | np.ndarray) -> n.LIF:
    """The LIF that, fed ``x``, spikes as ``lif`` fed ``x * scale`` (``scale > 0``, broadcast over the neurons):
    ``v_leak``, ``v_threshold`` and ``v_reset`` divided by ``scale``, so that its membrane is ``v / scale``. Exact
    in real arithmetic; in floating point exact for a power of two (see ssa-to-binary-matmul)."""
    return dataclasses.replace(lif, v_leak=lif.v_leak / scale, v_threshold=lif.v_threshold / scale,
                               v_reset=lif.v_reset / scale)
