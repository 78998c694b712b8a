"""fold-batchnorm: inference-mode BatchNorm folded into the synapse that feeds it.

Rewrites ``BN(S(x))`` where S is a Conv1d/Conv2d/Affine/Linear node whose only consumer is the BN, and the BN's axis
is S's output-channel axis (axis 0 for convolutions, the last axis for Affine/Linear): with ``a = weight /
sqrt(var + eps)`` and ``c = bias - mean * a``, S's weights become ``a * W`` (per output channel) and its bias
``a * b + c`` (a Linear becomes an Affine). The BN node disappears; its consumers read S. Preserved: the function,
up to floating-point rounding (one multiply-add folded into the weights). Refused (the BN stays): its input is not a
single synapse, the synapse feeds other nodes too, or the BN's axis is not the synapse's output-channel axis.
"""

from __future__ import annotations

import dataclasses

from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.node import Node
from snncompile.passes.base import Pass, PassResult

_CHANNEL_FIRST = (n.Conv1d, n.Conv2d)
_CHANNEL_LAST = (n.Affine, n.Linear)


def refusal(graph: Graph, bn_name: str) -> str | None:
    """Why the BN ``bn_name`` cannot fold into its input, or None if it can."""
    srcs = graph.sources(bn_name).get("input", [])
    if len(srcs) != 1 or not isinstance(graph.nodes[srcs[0]], _CHANNEL_FIRST + _CHANNEL_LAST):
        return "input is not a synapse"
    if graph.consumers(srcs[0]) != [bn_name]:
        return "synapse feeds other nodes too"
    syn, bn = graph.nodes[srcs[0]], graph.nodes[bn_name]
    assert isinstance(bn, n.BatchNorm)  # the pass asks only about BatchNorm nodes
    rank = len(graph.types[bn_name].shape)
    axis = bn.axis % rank
    if isinstance(syn, _CHANNEL_FIRST) and axis != 0 or isinstance(syn, _CHANNEL_LAST) and axis != rank - 1:
        return "axis is not the synapse's output-channel axis"
    return None


def _folded(syn: n.Affine | n.Linear | n.Conv1d | n.Conv2d, bn: n.BatchNorm) -> Node:
    a, c = bn.channel_scale_shift()
    w = syn.weight * a.reshape((-1,) + (1,) * (syn.weight.ndim - 1))
    if isinstance(syn, n.Linear):
        return n.Affine(weight=w, bias=c)
    return syn.replace(weight=w, bias=syn.bias * a + c)


@dataclasses.dataclass(frozen=True)
class FoldBatchNorm(Pass):
    name = "fold-batchnorm"

    def rewrite(self, graph: Graph) -> PassResult:
        nodes = dict(graph.nodes)
        into: dict[str, str] = {}
        refusals = []
        for name in graph.order:
            bn = graph.nodes[name]
            if not isinstance(bn, n.BatchNorm):
                continue
            reason = refusal(graph, name)
            if reason is not None:
                refusals.append(self.refuse(name, reason))
                continue
            syn = graph.sources(name)["input"][0]
            synapse = graph.nodes[syn]
            assert isinstance(synapse, _CHANNEL_FIRST + _CHANNEL_LAST)  # refusal() checked it
            nodes[syn] = _folded(synapse, bn)
            del nodes[name]
            into[name] = syn
        edges = [Edge(into.get(e.src, e.src), e.dst, e.port) for e in graph.edges if e.dst not in into]
        return PassResult(graph.replace(nodes=nodes, edges=edges), bool(into), tuple(refusals))
