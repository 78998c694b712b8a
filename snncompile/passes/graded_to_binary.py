"""graded-to-binary: a synapse reading a sum of spike edges becomes one synapse per spike edge, sharing weights.

Rewrites a synapse ``S`` (Affine, Linear, Conv1d, Conv2d) whose input port carries graded values that are a sum of
binary edges: tracing the port back through ``Add`` nodes, summed edges and pure data movement (Flatten, Reshape,
Transpose) gives binary sources ``s_1 .. s_k``, each reached through a chain of data movement ``M_i``. Because S is
linear and data movement commutes with sums, ``S(sum_i M_i(s_i)) = (W M_1(s_1) + b) + W M_2(s_2) + ... + W M_k(s_k)``:
S becomes ``k`` copies ``<S>.0 .. <S>.<k-1>`` with S's weights, the bias only on copy 0 (an Affine's other copies
are Linear, a convolution's have a zero bias), copy ``i`` fed by ``M_i(s_i)`` (the data movement duplicated per
source as ``<M>.<s_i>`` and shared by every synapse that reads the same source through the same chain). Every edge
that left S now leaves each copy, into the same port and at the same position among that port's edges, so the
consumer sums the copies (the IR's convention). Add and data-movement nodes that nothing reads any more are removed.
Run it after fold-batchnorm (a BN fed by several copies is no longer foldable).

Preserved: exact in real arithmetic. In floating point the additions happen in another order (``W a + W b`` instead
of ``W (a + b)``), a difference of a few ulps that flips a spike only if a membrane lands that close to a threshold
(none did on the trained digits Spikformer and a calibrated Spikformer, float64; see tests/test_graded_to_binary.py).
Refused (left as is): a synapse whose input is real; a graded input that is not a sum of spike edges (e.g. "graded
values come from SumPool2d, not a sum of spike edges"); a graded value read by a node that is not a synapse
(e.g. the Mean before a classifier head).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir import Edge, Graph, Kind
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node
from snncompile.passes.base import Pass, PassResult
from snncompile.passes.rewrite import prune

MOVES = (n.Flatten, n.Reshape, n.Transpose)
"""Pure data movement: commutes with sums, so it can be duplicated per summed source."""

Term = tuple[str, tuple[str, ...]]
"""A binary source and the data-movement nodes from it to the synapse (in order)."""


class _NotASum(Exception):
    """A graded value that is not a sum of binary edges; the message is the reason."""


def _terms(graph: Graph, sources: list[str], path: tuple[str, ...] = ()) -> list[Term]:
    """The binary terms whose sum arrives through ``sources`` (then ``path``); raises _NotASum."""
    terms: list[Term] = []
    for src in sources:
        node, kind = graph.nodes[src], graph.types[src].kind
        if kind == Kind.BINARY:
            terms.append((src, path))
        elif kind == Kind.GRADED and isinstance(node, n.Add):
            terms += _terms(graph, graph.sources(src)["input"], path)
        elif kind == Kind.GRADED and isinstance(node, MOVES):
            terms += _terms(graph, graph.sources(src)["input"], (src,) + path)
        else:
            raise _NotASum(f"{kind} values come from {node.op}, not a sum of spike edges")
    return terms


def candidates(graph: Graph) -> list[str]:
    """Synapses with a non-binary input, and other nodes (not Add or data movement) reading a graded port."""
    def candidate(node: Node, kinds: set[Kind]) -> bool:
        if isinstance(node, n.SYNAPSES):
            return kinds != {Kind.BINARY}
        return not isinstance(node, MOVES + (n.Add,)) and Kind.GRADED in kinds

    return [name for name in graph.order
            if candidate(graph.nodes[name], {t.kind for t in graph.port_types(name).values()})]


def refusal(graph: Graph, name: str) -> str | None:
    """Why node ``name`` is not split into binary synapses, or None if it is a synapse reading a sum of spikes."""
    node = graph.nodes[name]
    if not isinstance(node, n.SYNAPSES):
        return f"{node.op} is not a synapse: its graded input is left as is"
    kind = graph.port_types(name)["input"].kind
    if kind != Kind.GRADED:
        return f"input is {kind}: only a sum of spike edges can be split into binary inputs"
    try:
        _terms(graph, graph.sources(name)["input"])
    except _NotASum as err:
        return str(err)
    return None


def _copies(node: Node, count: int) -> list[Node]:
    """``count`` copies of synapse ``node``, the bias only on the first."""
    if isinstance(node, n.Linear):
        return [node] * count
    if isinstance(node, n.Affine):
        return [node] + [n.Linear(weight=node.weight)] * (count - 1)
    assert isinstance(node, (n.Conv1d, n.Conv2d))  # refusal() lets only synapses through
    return [node] + [node.replace(bias=np.zeros_like(node.bias))] * (count - 1)


@dataclasses.dataclass(frozen=True)
class GradedToBinary(Pass):
    name = "graded-to-binary"

    def rewrite(self, graph: Graph) -> PassResult:
        refusals, split = [], {}
        for name in candidates(graph):
            reason = refusal(graph, name)
            if reason is None:
                split[name] = _terms(graph, graph.sources(name)["input"])
            else:
                refusals.append(self.refuse(name, reason))
        if not split:
            return PassResult(graph, False, tuple(refusals))
        nodes: dict[str, Node] = {}
        new_edges: list[Edge] = []
        moved: dict[Term, str] = {}
        outs: dict[str, list[str]] = {}
        fresh = FreshNames(graph.nodes)
        for name, node in graph.nodes.items():
            if name not in split:
                nodes[name] = node
                continue
            outs[name] = []
            for i, (copy, (src, path)) in enumerate(zip(_copies(node, len(split[name])), split[name], strict=True)):
                source = self._move(graph, fresh, nodes, new_edges, moved, src, path)
                copy_name = fresh(f"{name}.{i}")
                nodes[copy_name] = copy
                outs[name].append(copy_name)
                new_edges.append(Edge(source, copy_name))
        edges = [Edge(c, e.dst, e.port) for e in graph.edges if e.dst not in split
                 for c in outs.get(e.src, [e.src])]
        read = {e.src for e in graph.edges}  # Add and data movement that the copies no longer read are removed
        lowered = prune(graph.replace(nodes=nodes, edges=edges + new_edges),
                        lambda k, v: isinstance(v, MOVES + (n.Add,)) and k in read)
        return PassResult(lowered, True, tuple(refusals))

    @staticmethod
    def _move(graph: Graph, fresh: FreshNames, nodes: dict[str, Node], edges: list[Edge], moved: dict[Term, str],
              src: str, path: tuple[str, ...]) -> str:
        """The node giving ``src`` moved through ``path`` (duplicated data movement, shared per term)."""
        for depth in range(1, len(path) + 1):
            key = (src, path[:depth])
            if key not in moved:
                moved[key] = fresh(f"{path[depth - 1]}.{src}")
                nodes[moved[key]] = graph.nodes[path[depth - 1]]
                edges.append(Edge(moved[(src, path[:depth - 1])] if depth > 1 else src, moved[key]))
        return moved[(src, path)] if path else src
