"""maxpool-spikes: max-pooling of binary spikes as a sum-pool and a threshold (an OR over the window).

Rewrites ``MaxPool2d(s)`` whose input ``s`` is binary into ``Threshold(SumPool2d(s), 0, ">")`` with the same
kernel, stride and padding: the sum of 0/1 values over a window is > 0 exactly when one of them is 1, so
``max = OR = [sum > 0]``. Padding differs (MaxPool pads with -inf, SumPool with 0) but every window holds at least
one real element (padding <= kernel / 2), so for 0/1 inputs a zero pad never changes the result. The Threshold keeps
the MaxPool's name, so consumers and traces still refer to it; the SumPool is named ``<name>.sum``.
Preserved: exact (integer sums). Refused: a MaxPool whose input is graded or real, where the max is not an OR.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir import Graph, Kind
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node
from snncompile.passes.base import Pass, PassResult
from snncompile.passes.rewrite import splice_chains


def refusal(graph: Graph, name: str) -> str | None:
    """Why the MaxPool ``name`` is not an OR of spikes, or None."""
    kind = graph.port_types(name)["input"].kind
    if kind != Kind.BINARY:
        return f"input is {kind}: max of values is not an OR"
    return None


@dataclasses.dataclass(frozen=True)
class MaxPoolSpikes(Pass):
    name = "maxpool-spikes"

    def rewrite(self, graph: Graph) -> PassResult:
        chains: dict[str, list[tuple[str, Node]]] = {}
        refusals = []
        fresh = FreshNames(graph.nodes)
        for name, node in graph.nodes.items():
            if not isinstance(node, n.MaxPool2d):
                continue
            reason = refusal(graph, name)
            if reason is not None:
                refusals.append(self.refuse(name, reason))
                continue
            chains[name] = [(fresh(f"{name}.sum"), n.SumPool2d(kernel_size=node.kernel_size, stride=node.stride,
                                                                padding=node.padding)),
                            (name, n.Threshold(threshold=np.zeros(()), fire=">"))]
        return PassResult(splice_chains(graph, chains), bool(chains), tuple(refusals))
