"""dssa-to-binary-matmul: SpikingResformer's DSSA products as SpikeMatMuls of selected reals and spikes.

``DSSAScore`` and ``DSSAAggregate`` (see ``snncompile.ir.nodes.dssa``; ``h`` heads, ``d = C / h``, ``N' = H' W'``,
``M = H W``) multiply the real batch-norm output ``y [2C, H', W']`` by spikes. Per node the pass emits data
movement, a fixed 0/1 selection synapse and one ``SpikeMatMul`` (one real operand, the other spikes):

    score      y -Reshape [h, 2d, N']-Transpose [h, N', 2d]-Linear [I_d 0]-> y1^T [h, N', d]   (<name>.y, .yt, .y1)
               x -Reshape [h, d, M]-> x_k                                                        (<name>.x)
               SpikeMatMul(y1^T, x_k) [h, N', M]  then  Scale c1 [h, 1, 1]                      (<name>.matmul, name)
    aggregate  y -Reshape-Transpose-Linear [0 I_d]-> y2^T [h, N', d]                          (<name>.y, .yt, .y2)
               SpikeMatMul(y2^T, attn, transpose_a) [h, d, M]  then  Scale c2 [h, 1, 1]        (<name>.matmul, .scale)
               Reshape [C, M]                                                                    (name)

The last node keeps the DSSA node's name. ``fold_scale`` removes the ``Scale`` by folding the per-head constant c
into the LIF that the product feeds (directly or through Reshape nodes, each with one consumer, the LIF having that
one input):

* ``input`` (default): ``r <- c`` (the LIF's input weight). For an LIF with ``r = 1`` in the ``nir``/``nir_k`` form
  the charge computes ``c * z`` where the unlowered graph computed ``1 * (z * c)``: the same float, so spikes are
  bit-identical. Refused (the Scale stays) for ``r != 1`` or the ``split`` forms.
* ``threshold``: ``v_threshold, v_leak, v_reset <- / c`` (needs c > 0). An LIF fed ``c z`` with state v behaves as one
  fed z with state ``v / c`` and every level divided by c: exact in real arithmetic, exact up to float rounding (a
  neuron whose membrane lands on its threshold may flip); on a chip the neuron integrates the raw accumulate.
* ``none``: keep the explicit Scale nodes (exact).

Preserved: the selection synapse adds exact zeros to one selected real, so ``y1``, ``y2`` are the reals of ``y``;
each product accumulates the same reals as the DSSA kernels. ``none`` and ``input`` are exact (spikes bit-identical,
tested on a calibrated SpikingResformer in float64); ``threshold`` is exact up to float rounding (0 of 3.9 M spikes
differed there, float64 and float32). Refused: a DSSA node whose port sums several edges (left as is), and a fold
that does not apply (with the reason; the product is still lowered, its Scale kept).
"""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import numpy as np

from snncompile.errors import SnnError
from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node
from snncompile.passes.base import Pass, PassResult, Refusal
from snncompile.passes.rewrite import divide_potentials

FOLDS = ("input", "threshold", "none")


def fold_target(graph: Graph, name: str) -> tuple[str | None, str | None]:
    """The LIF that the product ``name`` feeds through Reshapes, or None and why the scale cannot be folded."""
    current = name
    while True:
        consumers = graph.consumers(current)
        if len(consumers) != 1:
            return None, f"{current} has {len(consumers)} consumers"
        current = consumers[0]
        node = graph.nodes[current]
        if not isinstance(node, n.Reshape):
            break
    if not isinstance(node, n.LIF):
        return None, f"it feeds {node.op} {current}, not an LIF"
    if sum(map(len, graph.sources(current).values())) != 1:
        return None, f"LIF {current} has more than one input"
    return current, None


def _target(graph: Graph, name: str) -> tuple[str, n.LIF]:
    """The name and node of the LIF that the product ``name`` feeds, where ``fold_target`` finds one."""
    lif_name, _ = fold_target(graph, name)
    lif = None if lif_name is None else graph.nodes[lif_name]
    assert lif_name is not None and isinstance(lif, n.LIF)  # fold_target names a LIF or says why not
    return lif_name, lif


def _product(graph: Graph, name: str) -> n.DSSAScore | n.DSSAAggregate:
    node = graph.nodes[name]
    assert isinstance(node, n.DSSAScore | n.DSSAAggregate)  # the pass lowers only these
    return node


def refusal(graph: Graph, name: str) -> str | None:
    """Why the DSSA node ``name`` is not lowered, or None: each operand must come from one node."""
    for port, sources in graph.sources(name).items():
        if len(sources) != 1:
            return f"port {port} sums {len(sources)} edges"
    return None


def fold_refusal(graph: Graph, name: str, fold: str) -> str | None:
    """Why the per-head scale of the DSSA node ``name`` cannot be folded with ``fold``, or None."""
    if fold == "none":
        return None
    _, reason = fold_target(graph, name)
    if reason is not None:
        return f"scale kept as a Scale node: {reason}"
    lif, node = _target(graph, name)
    if fold == "input" and (node.form not in ("nir", "nir_k") or not np.all(node.r == 1)):
        return f"scale kept as a Scale node: LIF {lif} has r != 1 or form {node.form}: r * c would round differently"
    if fold == "threshold" and not np.all(_product(graph, name).scale > 0):
        return "scale kept as a Scale node: a scale <= 0 would flip the threshold comparison"
    return None


def _compact(a: np.ndarray) -> np.ndarray:
    """``a`` with every axis along which it is constant reduced to size 1."""
    for axis in range(a.ndim):
        first = np.take(a, [0], axis=axis)
        if np.all(a == first):
            a = first
    return a


def _folded(graph: Graph, name: str, fold: str) -> tuple[str, n.LIF]:
    """The LIF fed by ``name`` with the node's per-head scale folded in."""
    (lif_name, lif), node, shape = _target(graph, name), _product(graph, name), graph.types[name].shape
    per_head = node.scale.reshape(-1, 1, 1)
    scale = np.broadcast_to(per_head, (node.heads, shape[0] // node.heads, shape[1]) if len(shape) == 2 else shape)
    scale = _compact(scale.reshape(graph.types[lif_name].shape))
    if fold == "input":
        return lif_name, dataclasses.replace(lif, r=scale)
    return lif_name, divide_potentials(lif, scale)


def _lowered(graph: Graph, name: str, fold: bool, fresh: FreshNames) -> tuple[list[tuple[str, Node]], list[Edge]]:
    """The nodes (the last named ``name``) and edges that replace the DSSA node ``name``."""
    node, src = _product(graph, name), graph.sources(name)
    score = isinstance(node, n.DSSAScore)
    y_shape = graph.types[src["y"][0]].shape
    heads, d = node.heads, y_shape[0] // (2 * node.heads)
    sel = np.hstack([np.eye(d), np.zeros((d, d))] if score else [np.zeros((d, d)), np.eye(d)])
    yk = "y1" if score else "y2"
    new = {k: fresh(f"{name}.{k}") for k in ("y", "yt", yk, "x", "matmul", "scale")}
    tail: list[tuple[str, Node]] = [(new["matmul"], n.SpikeMatMul(transpose_a=not score))]
    if not fold:
        tail.append((new["scale"], n.Scale(scale=node.scale.reshape(-1, 1, 1))))
    if not score:
        tail.append((new["scale"], n.Reshape(shape=graph.types[name].shape)))
    tail[-1] = (name, tail[-1][1])
    matmul = tail[0][0]
    nodes = [(new["y"], n.Reshape(shape=(heads, 2 * d, y_shape[1] * y_shape[2]))),
             (new["yt"], n.Transpose(perm=(0, 2, 1))), (new[yk], n.Linear(weight=sel))]
    edges = [Edge(src["y"][0], new["y"]), Edge(new["y"], new["yt"]), Edge(new["yt"], new[yk]),
             Edge(new[yk], matmul, "a")]
    if score:
        x_shape = graph.types[src["x"][0]].shape
        nodes.append((new["x"], n.Reshape(shape=(heads, d, x_shape[1] * x_shape[2]))))
        edges += [Edge(src["x"][0], new["x"]), Edge(new["x"], matmul, "b")]
    else:
        edges.append(Edge(src["attn"][0], matmul, "b"))
    edges += [Edge(a, b) for (a, _), (b, _) in pairwise(tail)]
    return nodes + tail, edges


@dataclasses.dataclass(frozen=True)
class DSSAToBinaryMatmul(Pass):
    name = "dssa-to-binary-matmul"
    fold_scale: str = "input"

    def __post_init__(self) -> None:
        if self.fold_scale not in FOLDS:
            raise SnnError(f"pass '{self.name}': fold_scale must be one of {', '.join(FOLDS)}, got '{self.fold_scale}'")

    def rewrite(self, graph: Graph) -> PassResult:
        nodes: dict[str, Node] = dict(graph.nodes)
        edges = [e for e in graph.edges if not isinstance(graph.nodes[e.dst], n.DSSAScore | n.DSSAAggregate)]
        refusals: list[Refusal] = []
        fresh = FreshNames(graph.nodes)
        dssa = [k for k, v in graph.nodes.items() if isinstance(v, n.DSSAScore | n.DSSAAggregate)]
        for name in dssa:
            reason = refusal(graph, name)
            if reason is not None:
                refusals.append(self.refuse(name, reason))
                edges += [e for e in graph.edges if e.dst == name]
                continue
            reason = fold_refusal(graph, name, self.fold_scale)
            if reason is not None:
                refusals.append(self.refuse(name, reason))
            fold = self.fold_scale != "none" and reason is None
            if fold:
                lif_name, lif = _folded(graph, name, self.fold_scale)
                nodes[lif_name] = lif
            new_nodes, new_edges = _lowered(graph, name, fold, fresh)
            del nodes[name]
            nodes.update(new_nodes)
            edges += new_edges
        changed = any(k not in nodes or nodes[k] is not graph.nodes[k] for k in dssa)
        return PassResult(graph.replace(nodes=nodes, edges=edges), changed, tuple(refusals))
