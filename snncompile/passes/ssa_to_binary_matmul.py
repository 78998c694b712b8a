"""ssa-to-binary-matmul: Spikformer's spiking self-attention as two SpikeMatMul nodes per layer, heads on an axis.

Rewrites every ``SpikingSelfAttention`` ``a`` (ports q, k, v ``[N, D]``, ``H`` heads of ``d = D / H`` channels,
``y_h = ((q_h k_h^T) v_h) * scale``) into: for each operand ``Reshape [N, H, d]`` (``a.<p>.split``) and
``Transpose -> [H, N, d]`` (``a.<p>.heads``); two ``SpikeMatMul`` with the head as the leading (broadcast) axis,
in the association order chosen per layer (below): ``a.qk = q k^T``, ``a.qk_v = a.qk v`` or ``a.kv = k^T v``,
``a.q_kv = q a.kv``; ``Transpose -> [N, H, d]`` (``a.merge``) and ``Reshape [N, D]``. The scale is folded into the
one LIF that reads ``a``: its input becomes the integer counts ``c`` instead of ``x = c * scale``, and its
``v_threshold``, ``v_leak`` and ``v_reset`` are divided by ``scale``. Every LIF form (``h = v + (v_leak - v + r x)
dt / tau`` and the others) is built of +, -, * and / with x, v and v_leak entering linearly, so with ``v' = v / s``
it computes ``h' = h / s``; ``h >= th`` iff ``h' >= th / s`` (s > 0), and the reset keeps ``v' = v / s``. For
``s = 2^k`` every one of those float operations commutes exactly with the scaling, so the spikes are bit-identical
(the state too, barring subnormal values, which lie far below the threshold and any input). Where the fold does not
apply the last Reshape is ``a.concat`` and a ``Scale`` node keeps the name ``a`` (exact: the same product as the SSA).

Association order, per head: ``qk-first`` costs ``N*N*d`` multiply-accumulates for ``q k^T`` (``[N, d] @ [d, N]``)
and ``N*N*d`` for ``(q k^T) v`` (``[N, N] @ [N, d]``); ``kv-first`` ``d*d*N`` for ``k^T v`` (``[d, N] @ [N, d]``)
and ``N*d*d`` for ``q (k^T v)`` (``[N, d] @ [d, d]``). ``order=auto`` takes the smaller (``kv-first`` when
``d < N``; ties keep ``qk-first``, the model's own order). Both are exact: the operands are spikes (or counts), so
every product and partial sum is an integer (at most ``N * d`` for spikes, exact in float32 up to 2^24).

Preserved: exact. Refused (the SSA is still lowered, the scale stays as a ``Scale`` node, reason reported): a scale
that is not a positive power of two, an output that feeds anything but exactly one LIF, a LIF that also sums other
inputs. Options: ``order`` (``auto``, ``qk-first``, ``kv-first``), ``fold_scale`` (false keeps every Scale).
docs/association-order.md tabulates both orders' costs (``snncompile.passes.association_order`` writes it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from snncompile.errors import SnnError
from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node
from snncompile.passes.base import Pass, PassResult
from snncompile.passes.rewrite import divide_potentials

ORDERS = ("auto", "qk-first", "kv-first")


def matmul_counts(tokens: int, head_dim: int) -> dict[str, int]:
    """Multiply-accumulates of one head per association order: ``qk-first`` ``N*N*d + N*N*d``, ``kv-first``
    ``d*d*N + N*d*d`` (N = tokens, d = head_dim)."""
    return {"qk-first": tokens * tokens * head_dim + tokens * tokens * head_dim,
            "kv-first": head_dim * head_dim * tokens + tokens * head_dim * head_dim}


def choose_order(tokens: int, head_dim: int, order: str = "auto") -> str:
    """``order`` itself, or for ``auto`` the order with fewer multiply-accumulates (ties: ``qk-first``)."""
    if order != "auto":
        return order
    counts = matmul_counts(tokens, head_dim)
    return "kv-first" if counts["kv-first"] < counts["qk-first"] else "qk-first"


def _power_of_two(scale: float) -> bool:
    return scale > 0 and math.isfinite(scale) and math.frexp(scale)[0] == 0.5


def refusal(graph: Graph, name: str) -> str | None:
    """Why the scale of the SSA ``name`` cannot be folded into the LIF that reads it, or None."""
    ssa = graph.nodes[name]
    assert isinstance(ssa, n.SpikingSelfAttention)  # the pass asks only about SSA nodes
    scale = ssa.scale
    if not _power_of_two(scale):
        return f"scale {scale!r} is not a positive power of two: dividing the LIF's threshold by it would round"
    consumers = graph.consumers(name)
    if len(consumers) != 1:
        return f"output feeds {len(consumers)} nodes, not exactly one LIF"
    lif = consumers[0]
    if not isinstance(graph.nodes[lif], n.LIF):
        return f"output feeds {graph.nodes[lif].op} '{lif}', not a LIF"
    others = sorted({s for srcs in graph.sources(lif).values() for s in srcs} - {name})
    if others:
        return f"LIF '{lif}' also sums {', '.join(others)}: their inputs would be rescaled too"
    return None


@dataclasses.dataclass(frozen=True)
class SsaToBinaryMatmul(Pass):
    name = "ssa-to-binary-matmul"
    order: str = "auto"
    fold_scale: bool = True

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise SnnError(f"pass '{self.name}' option 'order': '{self.order}' is not one of {', '.join(ORDERS)}")

    def rewrite(self, graph: Graph) -> PassResult:
        nodes: dict[str, Node] = {}
        edges = list(graph.edges)
        refusals = []
        folded: dict[str, float] = {}
        fresh = FreshNames(graph.nodes)
        for name, node in graph.nodes.items():
            if not isinstance(node, n.SpikingSelfAttention):
                nodes[name] = node
                continue
            reason = refusal(graph, name) if self.fold_scale else "fold_scale=false"
            if reason is not None and self.fold_scale:
                refusals.append(self.refuse(name, f"scale kept as a Scale node: {reason}"))
            if reason is None:
                folded[graph.consumers(name)[0]] = node.scale
            new_nodes, new_edges, split = self._lower(graph, name, node, keep_scale=reason is not None, fresh=fresh)
            nodes.update(new_nodes)
            edges = [Edge(e.src, split[e.port]) if e.dst == name else e for e in edges] + new_edges
        for lif, scale in folded.items():
            target = nodes[lif]
            assert isinstance(target, n.LIF)  # refusal() checked it
            nodes[lif] = divide_potentials(target, scale)
        changed = len(nodes) != len(graph.nodes) or bool(folded)
        return PassResult(graph.replace(nodes=nodes, edges=edges), changed, tuple(refusals))

    def _lower(self, graph: Graph, name: str, node: n.SpikingSelfAttention, keep_scale: bool,
               fresh: FreshNames) -> tuple[dict[str, Node], list[Edge], dict[str, str]]:
        """The nodes replacing SSA ``name`` (the last one named ``name``), their internal edges, and port -> the
        Reshape that now takes that port's edges."""
        tokens, dim = graph.port_types(name)["q"].shape
        heads, d = node.heads, dim // node.heads
        order = choose_order(tokens, d, self.order)
        new: dict[str, Node] = {}

        def add(suffix: str, op: Node) -> str:
            key = name if suffix == "" else fresh(f"{name}.{suffix}")
            new[key] = op
            return key

        split = {p: add(f"{p}.split", n.Reshape(shape=(tokens, heads, d))) for p in ("q", "k", "v")}
        per_head = {p: add(f"{p}.heads", n.Transpose(perm=(1, 0, 2))) for p in ("q", "k", "v")}
        wires = [Edge(split[p], per_head[p]) for p in split]
        if order == "qk-first":
            first = add("qk", n.SpikeMatMul(transpose_b=True))
            second = add("qk_v", n.SpikeMatMul())
            wires += [Edge(per_head["q"], first, "a"), Edge(per_head["k"], first, "b"),
                      Edge(first, second, "a"), Edge(per_head["v"], second, "b")]
        else:
            first = add("kv", n.SpikeMatMul(transpose_a=True))
            second = add("q_kv", n.SpikeMatMul())
            wires += [Edge(per_head["k"], first, "a"), Edge(per_head["v"], first, "b"),
                      Edge(per_head["q"], second, "a"), Edge(first, second, "b")]
        merge = add("merge", n.Transpose(perm=(1, 0, 2)))
        wires.append(Edge(second, merge))
        if not keep_scale:
            wires.append(Edge(merge, add("", n.Reshape(shape=(tokens, dim)))))
            return new, wires, split
        concat = add("concat", n.Reshape(shape=(tokens, dim)))
        wires += [Edge(merge, concat), Edge(concat, add("", n.Scale(scale=np.asarray(node.scale))))]
        return new, wires, split
