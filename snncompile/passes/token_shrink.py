"""Shrinking of the token rows that a ``StaticTokenMask`` removes (the second half of the ``token-masks`` pass).

For a static mask ``S`` (``[steps, N]``) let ``D`` be the tokens masked at EVERY step and ``E`` those masked at some
step; below, ``off`` is ``D`` when shrinking and ``E`` when counting. The region of ``S`` is the connected set of
row-wise nodes on ``[N, ...]`` (Affine, Linear, Add, neurons without per-row parameters, TokenMask by ``S``) and
SpikingSelfAttention nodes around the TokenMasks fed by ``S``, less the nodes that would make shrinking inexact:

* a region node with a consumer outside the region must have its rows ``off`` exactly 0 where masked ("zero":
  TokenMask by ``S``; an Add of zero inputs; an attention whose q rows are zero), since that consumer reads them;
* an attention node needs zero rows ``off`` in k and v (the products sum over every token).

Every other region node reads its own rows only, so dropping the rows ``D`` from the whole region is EXACT with
respect to the masked graph: inputs from outside go through ``TokenSelect`` (the live rows ``L``), outputs leave
through ``TokenScatter`` (zeros in ``D``), TokenMasks read ``S`` restricted to ``L``. Neurons and synapses of
the rows ``D`` disappear. Rows masked at some steps only (``E \\ D``) cannot be shrunk (shapes are per graph,
not per step); ``skippable`` counts their synapse-steps per sample (synapses of the row times its masked steps),
which a target may skip once the row is masked (calibrated masks never unmask a token, so the row's neuron state
is never read again).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node

ROW_WISE = (n.Affine, n.Linear, n.Add, n.TokenMask) + tuple(n.NEURONS)


@dataclass(frozen=True)
class Shrink:
    graph: Graph
    tokens: int  # token rows removed, summed over the static masks
    skippable: int  # synapse-steps per sample of the rows masked at some steps only


def zero_rows(graph: Graph, mask: str, off: np.ndarray) -> dict[str, np.ndarray]:
    """Per node on ``[N, ...]``: the rows that are exactly 0 wherever ``off`` rows are masked by ``mask``."""
    rows = len(off)
    zero: dict[str, np.ndarray] = {}
    for name in graph.order:
        node, src = graph.nodes[name], graph.sources(name)
        if graph.types[name].shape[:1] != (rows,):
            continue
        none = np.zeros(rows, bool)
        if isinstance(node, n.TokenMask):
            zero[name] = zero.get(src["input"][0], none) | (off if src["mask"] == [mask] else none)
        elif isinstance(node, n.Add):
            zero[name] = np.logical_and.reduce([zero.get(s, none) for s in src["input"]])
        elif isinstance(node, n.SpikingSelfAttention):
            zero[name] = zero.get(src["q"][0], none)
    return zero


def _candidate(graph: Graph, name: str, mask: str, rows: int) -> bool:
    node, shape = graph.nodes[name], graph.types[name].shape
    if shape[:1] != (rows,) or not isinstance(node, ROW_WISE + (n.SpikingSelfAttention,)):
        return False
    if isinstance(node, n.TokenMask):
        return graph.sources(name)["mask"] == [mask]
    if isinstance(node, tuple(n.NEURONS)):
        return all(np.ndim(getattr(node, f)) < len(shape) for f in node.arrays)
    return True


def region(graph: Graph, mask: str, off: np.ndarray) -> set[str]:
    """The nodes whose rows ``off`` can be dropped exactly (see the module docstring)."""
    rows, zero = len(off), zero_rows(graph, mask, off)
    seeds = [c for c in graph.consumers(mask) if _candidate(graph, c, mask, rows)]
    found, todo = set(seeds), list(seeds)
    while todo:
        name = todo.pop()
        for other in graph.consumers(name) + [s for v in graph.sources(name).values() for s in v]:
            if other not in found and _candidate(graph, other, mask, rows):
                found.add(other)
                todo.append(other)
    zeroed = {k for k, z in zero.items() if not (off & ~z).any()}
    changed = True
    while changed:
        bad = {k for k in found if any(c not in found for c in graph.consumers(k)) and k not in zeroed}
        bad |= {k for k in found if isinstance(graph.nodes[k], n.SpikingSelfAttention)
                and not all(s in zeroed for p in ("k", "v") for s in graph.sources(k)[p])}
        found -= bad
        changed = bool(bad)
    return found


def _row_synapses(graph: Graph, names: set[str]) -> int:
    """Synapses per token row of the Affine/Linear nodes ``names``."""
    synapses = [node for k in names if isinstance(node := graph.nodes[k], n.Affine | n.Linear)]
    return sum(int(np.prod(node.weight.shape)) for node in synapses)


def shrink(graph: Graph) -> Shrink:
    """Drop, for every StaticTokenMask, its always-masked rows from its region; count the rest as skippable."""
    tokens = skippable = 0
    for mask in [k for k in graph.order if isinstance(graph.nodes[k], n.StaticTokenMask)]:
        node = graph.nodes[mask]
        assert isinstance(node, n.StaticTokenMask)  # as chosen above: _drop_rows keeps the mask node
        static = node.mask
        dead, ever = static.max(0) == 0, static.min(0) == 0
        nodes_in = region(graph, mask, ever)
        skippable += int((static[:, ~dead] == 0).sum()) * _row_synapses(graph, nodes_in)
        if not dead.any() or not nodes_in:
            continue
        tokens += int(dead.sum())
        graph = _drop_rows(graph, mask, region(graph, mask, dead), np.flatnonzero(~dead))
    return Shrink(graph, tokens, skippable)


def _drop_rows(graph: Graph, mask: str, inside: set[str], live: np.ndarray) -> Graph:
    """``graph`` with the nodes ``inside`` computing the rows ``live`` only."""
    static = graph.nodes[mask]
    assert isinstance(static, n.StaticTokenMask)
    index, size = tuple(int(i) for i in live), len(static.mask[0])
    nodes: dict[str, Node] = dict(graph.nodes)
    fresh = FreshNames(graph.nodes)
    mask_live = fresh(f"{mask}.live")
    nodes[mask_live] = n.StaticTokenMask(mask=static.mask[:, live])
    edges = [Edge(s, mask_live, "input") for s in graph.sources(mask)["input"]]
    wires: dict[tuple[str, str], str] = {}

    def wire(src: str, kind: str) -> str:
        if (src, kind) not in wires:
            wires[src, kind] = fresh(f"{src}.{kind}")
            nodes[wires[src, kind]] = n.TokenSelect(index=index) if kind == "select" else \
                n.TokenScatter(index=index, size=size)
            edges.append(Edge(src, wires[src, kind]))
        return wires[src, kind]

    for e in graph.edges:
        if e.dst in inside and e.src == mask:
            edges.append(Edge(mask_live, e.dst, e.port))
        elif e.dst in inside and e.src not in inside:
            edges.append(Edge(wire(e.src, "select"), e.dst, e.port))
        elif e.src in inside and e.dst not in inside:
            edges.append(Edge(wire(e.src, "scatter"), e.dst, e.port))
        else:
            edges.append(e)
    return graph.replace(nodes=nodes, edges=edges)
