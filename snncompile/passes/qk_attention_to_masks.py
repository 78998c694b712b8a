"""qk-attention-to-masks: QKFormer's Q-K attention as synapses, neurons and element masks only.

The frontend emits QKFormer's attention as ``Q --HeadSum | TokenSum--> LIF_0.5 --> SpikeMask.mask`` (see
``snncompile.ir.nodes.qk``). This pass replaces the two fixed-pattern sums by fixed 0/1-weight synapses:

* ``HeadSum(heads)`` on ``[..., D]`` (``d = D / heads``) becomes ``Linear(W)`` with the block-of-ones weight
  ``W[h, c] = [c // d == h]`` (``[heads, D]``): ``y[..., h] = sum_c W[h, c] x[..., c] = sum_{j<d} x[..., h d + j]``.
* ``TokenSum`` on ``[N, D]`` becomes ``Transpose(1, 0)`` (``[D, N]``), ``Linear`` with a ones row (``[1, N]``,
  giving ``[D, 1]``) and ``Transpose(1, 0)`` back to ``[1, D]``.

The last node of each replacement keeps the sum's name, so the LIF that follows and every trace still refer to it;
the others are named ``<name>.tokens`` and ``<name>.sum``. The threshold neuron and the ``SpikeMask`` stay: the
mask is the element mask of binary spikes (an AND), already a primitive of the lowered form.

Preserved: exact. The inputs are spikes or counts, so every product is 0 or a count and every partial sum an
integer (exact in float below 2^24 / 2^53), whatever order the synapse accumulates in. The output kind changes
from graded to real (a synapse's output), which no consumer of the sums depends on.
Refused: a sum over real values, where a matrix product may round differently from the sum it replaces.
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
    """Why the HeadSum/TokenSum ``name`` is not an exact 0/1-weight synapse, or None."""
    kind = graph.port_types(name)["input"].kind
    if kind == Kind.REAL:
        return "input is real: a ones-weight synapse may round differently from the sum"
    return None


def head_ones(heads: int, width: int) -> np.ndarray:
    """The ``[heads, width]`` block-of-ones weight: row h has ones on the channels of head h."""
    return np.kron(np.eye(heads), np.ones((1, width // heads)))


def _replacement(graph: Graph, name: str, fresh: FreshNames) -> list[tuple[str, Node]]:
    """The chain that replaces the sum ``name``, first node first; the last one is named ``name``."""
    node, shape = graph.nodes[name], graph.port_types(name)["input"].shape
    if isinstance(node, n.HeadSum):
        return [(name, n.Linear(weight=head_ones(node.heads, shape[-1])))]
    tokens, total = fresh(f"{name}.tokens"), fresh(f"{name}.sum")
    return [(tokens, n.Transpose(perm=(1, 0))), (total, n.Linear(weight=np.ones((1, shape[0])))),
            (name, n.Transpose(perm=(1, 0)))]


@dataclasses.dataclass(frozen=True)
class QKAttentionToMasks(Pass):
    name = "qk-attention-to-masks"

    def rewrite(self, graph: Graph) -> PassResult:
        chains: dict[str, list[tuple[str, Node]]] = {}
        refusals = []
        fresh = FreshNames(graph.nodes)
        for name, node in graph.nodes.items():
            if not isinstance(node, n.HeadSum | n.TokenSum):
                continue
            reason = refusal(graph, name)
            if reason is not None:
                refusals.append(self.refuse(name, reason))
                continue
            chains[name] = _replacement(graph, name, fresh)
        return PassResult(splice_chains(graph, chains), bool(chains), tuple(refusals))
