"""tokens-to-vectors: a graph in NIR 1.0 standard primitives only; token streams become flat vectors.

Every node between two *kept* nodes (Input, Output, neurons, convolutions, pools, Delay, Previous) that is linear or
a layout change (Affine, Linear, Scale, BatchNorm, Mean, Add, Transpose, Reshape, Flatten) is folded into dense
Affine weights on row-major flattened vectors. A Previous node (a cycle's closing edge) is read when the step starts
and fed last, like any kept node; only vector-valued recurrence is handled. A kept node's input is a sum
``sum_g L_g (sum_{s in g} flat(s)) + b`` over groups g of kept sources; each group becomes one ``Affine(L_g)`` (the
bias on the first with a weight) fed by every source of the group (NIR sums the edges into a port), so an ``Add``
disappears into several edges. In matrix terms: a token-wise
``W [out, in]`` on ``[N, in]`` is ``kron(I_N, W)`` (bias tiled), a Linear along the token axis (between Transposes)
is ``kron(M, I_D)``, a Transpose is a permutation, Reshape and Flatten are the identity on flat vectors, Scale and
BatchNorm multiply the rows (per element, so a per-channel shift after a token mixer is fine), a Mean over tokens is
an averaging matrix multiplied into the following head. Sources of more than one axis reach an Affine through one
``Flatten`` (named ``<source or Add>.flat``); a group that is the identity without bias needs no Affine.

Layouts: a flat neuron whose one use is a sum with a permuted stream (``P`` a permutation matrix, e.g. the SPS's
channel-major spikes seen as tokens) is stored as ``P^T v``: its input Affines' rows and its parameters are
reordered (exact: a reordering), so both terms share ``P`` and one Affine; a residual stream keeps one layout and
each original synapse stays one Affine. The graph metadata ``layouts`` records them (stored = original[layout]).

A kept node fed directly by kept sources of its own input shape keeps its shape and edges (the convolution stages
on ``[C, H, W]`` stay as they are); a neuron or Output fed through folded nodes becomes a flat vector (array
parameters broadcast and flattened row-major). A ``Threshold`` (the OR of a lowered max pool: memoryless, fed with
integer sums) becomes a LIF with ``tau = dt``, ``r = 1``, ``v_leak = v_reset = 0``, hard reset and the same
threshold and fire rule: ``h = v + (0 - v + x) * dt / tau = v + (x - v)``, and with integer ``x`` and ``v`` (v is
0 or the previous integer ``h``) both operations are exact, so ``h = x`` and the spikes are the Threshold's (norse's
``v + dt * (1 / tau) * (x + v_leak - v)`` is as exact).

Preserved: the same equation in exact arithmetic; floats round differently where products of weights are
precomputed or sums regrouped (measured: see tests/test_tokens_to_vectors.py and docs/nir.md). Affine sizes grow
with the token count (``kron`` is dense). Refused, each with its reason (the whole graph is then left unchanged,
since half a rewrite is not standard NIR either): nodes that are neither linear nor NIR primitives (extension
nodes), convolutions, pools and Delays whose input passes through folded nodes or changes shape, a Threshold that
is not fed directly or whose input is real (``v + (x - v)`` may round).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir import Edge, Graph, Kind
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node
from snncompile.passes.base import Pass, PassResult
from snncompile.passes.flat_terms import Expr, Group, apply, permutation, sum_terms

FOLDED = (n.Affine, n.Linear, n.Scale, n.BatchNorm, n.Mean, n.Add, n.Transpose, n.Reshape, n.Flatten)
NEURONS = (n.I, n.IF, n.LI, n.LIF, n.CubaLI, n.CubaLIF)
SHAPED = (n.Conv1d, n.Conv2d, n.SumPool2d, n.AvgPool2d, n.Delay)


def direct(graph: Graph, name: str, keeps: dict[str, bool]) -> bool:
    """Whether every source of ``name``'s input is a kept node that keeps the shape ``name`` receives."""
    shape = graph.port_types(name)["input"].shape
    srcs = graph.sources(name).get("input", [])
    return all(keeps.get(s, False) and graph.types[s].shape == shape for s in srcs)


def keeps_shape(graph: Graph) -> dict[str, bool]:
    """Kept nodes that keep their shape (Input, and shaped nodes or neurons fed directly), in topological order."""
    keeps: dict[str, bool] = {}
    for name in graph.order:
        node = graph.nodes[name]
        keeps[name] = isinstance(node, n.Input) or (isinstance(node, n.Previous) and len(node.type.shape) == 1) or (
            isinstance(node, (*SHAPED, *NEURONS, n.Threshold)) and direct(graph, name, keeps))
    return keeps


def refusal(graph: Graph, name: str) -> str | None:
    """Why node ``name`` cannot be expressed in NIR 1.0 primitives by this pass, or None."""
    node = graph.nodes[name]
    if isinstance(node, (*FOLDED, *NEURONS, n.Input, n.Output)):
        return None
    if isinstance(node, n.Previous):
        return None if len(node.type.shape) == 1 else (
            f"carries a {node.type} tensor around a cycle; only vector recurrence is flattened")
    if not isinstance(node, (*SHAPED, n.Threshold)):
        return f"{node.op} is neither a NIR primitive nor a linear or layout operation"
    if not direct(graph, name, keeps_shape(graph)):
        return (f"{node.op} needs its input as it is, but it passes through folded or flattened nodes "
                f"({', '.join(graph.sources(name)['input'])})")
    if isinstance(node, n.Threshold) and graph.port_types(name)["input"].kind == Kind.REAL:
        return "input is real: the LIF with tau = dt computes v + (x - v), exact only for integer inputs"
    return None


def _flat(node: Node, shape: tuple[int, ...]) -> Node:
    """A neuron on the flat vector: array parameters broadcast to ``shape`` and flattened (scalars kept)."""
    flat = {f: getattr(node, f) for f in node.arrays}
    flat = {f: p if p.size == 1 and p.ndim <= 1 else np.broadcast_to(p, shape).reshape(-1).copy()
            for f, p in flat.items()}
    return node.replace(**flat)


def _threshold_lif(node: n.Threshold, dt: float) -> n.LIF:
    t = np.asarray(node.threshold, dtype=float)
    return n.LIF(tau=np.full_like(t, dt), r=np.ones_like(t), v_leak=np.zeros_like(t), v_threshold=t,
                 v_reset=np.zeros_like(t), fire=node.fire, reset="hard")


class _Builder:
    """The rewritten graph, built in topological order of the original."""

    def __init__(self, graph: Graph) -> None:
        self.graph, self.keeps = graph, keeps_shape(graph)
        self.nodes: dict[str, Node] = {}
        # names of the kept nodes and of the nodes made here; a folded node's name is free (an Affine takes it)
        self.fresh = FreshNames(k for k in graph.order if not isinstance(graph.nodes[k], FOLDED))
        self.edges: list[Edge] = []
        self.exprs: dict[str, Expr] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.flats: dict[tuple[str, ...], str] = {}
        self.layouts: dict[str, np.ndarray] = {}
        self.affines: set[str] = set()  # created here, each feeding one kept node

    def build(self) -> Graph:
        graph = self.graph
        for name in graph.order:
            node, out = graph.nodes[name], graph.types[name].shape
            if isinstance(node, n.Previous):  # read when the step starts; fed below, once its sources are built
                self.nodes[name], self.shapes[name] = node, out
                self.exprs[name] = Expr((Group(None, (name,), name),), None, out)
                continue
            port = [self.exprs[s] for s in graph.sources(name).get("input", [])]
            if isinstance(node, FOLDED):
                summed = sum_terms(port, name, self.shapes, self.relayout)
                self.exprs[name] = summed if isinstance(node, n.Add) else apply(node, name, summed, out)
                continue
            node = _threshold_lif(node, graph.dt) if isinstance(node, n.Threshold) else node
            if self.keeps[name] or isinstance(node, n.Input) or (isinstance(node, n.Output)
                                                                 and direct(graph, name, self.keeps)):
                self.edges += [Edge(s, name) for s in graph.sources(name).get("input", [])]
                self.shapes[name] = out
            else:
                self.feed(name, sum_terms(port, name, self.shapes, self.relayout))
                node = node if isinstance(node, n.Output) else _flat(node, out)
                self.shapes[name] = (int(np.prod(out, dtype=int)),)
            self.nodes[name] = node
            self.exprs[name] = Expr((Group(None, (name,), name),), None, out)
        for name in graph.previous:
            self.feed(name, sum_terms([self.exprs[s] for s in graph.sources(name)["input"]], name, self.shapes,
                                      self.relayout))
        layouts = {k: v.tolist() for k, v in self.layouts.items()}
        return graph.replace(nodes=self.nodes, edges=self.edges,
                             metadata={**graph.metadata, "layouts": layouts} if layouts else graph.metadata)

    def feed(self, name: str, e: Expr) -> None:
        """Edges (through Flattens and Affines) that sum ``e`` into the flat input of kept node ``name``."""
        carrier = next((i for i, g in enumerate(e.groups) if g.weight is not None), 0)  # the bias rides a weight
        for i, g in enumerate(e.groups):
            shaped = tuple(s for s in g.srcs if len(self.shapes[s]) != 1)
            srcs = tuple(s for s in g.srcs if len(self.shapes[s]) == 1)
            if shaped:
                if shaped not in self.flats:
                    self.flats[shaped] = self.fresh(f"{g.label}.flat")
                    self.nodes[self.flats[shaped]] = n.Flatten(start_dim=0, end_dim=-1)
                    self.edges.extend(Edge(s, self.flats[shaped]) for s in shaped)
                srcs = (self.flats[shaped], *srcs)
            bias = e.bias if i == carrier else None
            if g.weight is None and bias is None:
                self.edges.extend(Edge(s, name) for s in srcs)
                continue
            weight = np.eye(int(np.prod(self.shapes[g.srcs[0]]))) if g.weight is None else g.weight
            affine = self.fresh(g.syn or f"{name}.in")
            self.affines.add(affine)
            self.nodes[affine] = n.Affine(weight=weight, bias=np.zeros(weight.shape[0]) if bias is None else bias)
            self.edges.extend(Edge(s, affine) for s in srcs)
            self.edges.append(Edge(affine, name))

    def relayout(self, h: Group, g: Group, at: str) -> Group | None:
        """If one group is the identity of a free neuron and the other a permutation ``P`` of its size, store the
        neuron as ``P^T v`` (its input Affines' rows and its parameters permuted: exact) so both share ``P``."""
        for ident, perm in ((g, h), (h, g)):
            sigma = permutation(perm.weight)
            if ident.weight is None and len(ident.srcs) == 1 and sigma is not None and self._free(ident.srcs[0], at) \
                    and sigma.size == self.shapes[ident.srcs[0]][0]:
                self._permute(ident.srcs[0], np.argsort(sigma))
                return Group(perm.weight, perm.srcs + ident.srcs, at, perm.syn)
        return None

    def _free(self, neuron: str, at: str) -> bool:
        """Whether ``neuron`` is a flat neuron fed only by its own Affines whose one use is one edge into ``at``."""
        into = [e.src for e in self.edges if e.dst == neuron]
        return (neuron not in self.layouts and isinstance(self.nodes.get(neuron), NEURONS) and not self.keeps[neuron]
                and [e.dst for e in self.graph.edges if e.src == neuron] == [at]
                and bool(into) and all(s in self.affines for s in into))

    def _permute(self, neuron: str, idx: np.ndarray) -> None:
        """Store ``neuron`` as ``s = v[idx]``: rows of its input Affines and its array parameters reordered."""
        for s in {e.src for e in self.edges if e.dst == neuron}:
            affine = self.nodes[s]
            assert isinstance(affine, n.Affine)  # _free: the neuron is fed only by Affines made here
            self.nodes[s] = affine.replace(weight=affine.weight[idx], bias=affine.bias[idx])
        node = self.nodes[neuron]
        self.nodes[neuron] = node.replace(**{f: getattr(node, f)[idx] for f in node.arrays
                                             if getattr(node, f).size > 1})
        self.layouts[neuron] = idx


@dataclasses.dataclass(frozen=True)
class TokensToVectors(Pass):
    name = "tokens-to-vectors"

    def rewrite(self, graph: Graph) -> PassResult:
        refusals = tuple(self.refuse(k, r) for k in graph.order if (r := refusal(graph, k)) is not None)
        changed = any(isinstance(node, (*FOLDED, n.Threshold)) for node in graph.nodes.values())
        if refusals or not changed:
            return PassResult(graph, False, refusals)
        return PassResult(_Builder(graph).build(), True, ())
