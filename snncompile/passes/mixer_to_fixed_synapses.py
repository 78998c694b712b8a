"""mixer-to-fixed-synapses: FWformer's Fourier / wavelet mixers become layers of fixed synapse weights.

A ``FourierMixer`` or ``WaveletMixer`` computes ``y = sum_k w_k * ((T_k @ x) @ C_k^T)`` on tokens ``x [N, D]``
(``C_k`` absent: identity). Structured (default), each term stays two synapse layers, each mixing along ONE axis::

    x -> Transpose[D, N] -> Linear(T_k) -> Transpose[N, D] -> Linear(C_k) -> Scale(w_k) --\\
                                                                                            Add  (= y)
    (one shared Transpose feeds every term; the terms enter the Add's port in order k = 0, 1, ...)

``Linear(T_k)`` on the last axis of ``x^T`` is ``x^T @ T_k^T = (T_k @ x)^T`` (the same weights for every channel);
``Linear(C_k)`` on the channel axis is ``(.) @ C_k^T``. Edges into one port are summed in edge order, so the terms
are accumulated k = 0, 1, ... as the mixer's kernel does. With ``structured=false``, one dense synapse over the
flattened tokens: ``Flatten -> Linear(W) -> Reshape[N, D]`` with ``W = sum_k w_k * kron(T_k, C_k)`` (row-major
``[N * D]``: ``W[n*D + d, m*D + e] = sum_k w_k T_k[n, m] C_k[d, e]``). The Add (or the Reshape) keeps the mixer's
name, so consumers and traces still refer to it; the other nodes are ``<name>.tokens_first``,
``<name>.<k>.tokens``, ``<name>.<k>.channels_last``, ``<name>.<k>.channels``, ``<name>.<k>.scale``,
``<name>.flat``, ``<name>.dense``.

Preserved: the function up to float rounding. The products are the same, only the order in which a matrix
product sums them may differ (the dense form also folds ``w_k`` and both bases into one weight first); measured on
the trained digits FWformer and on small calibrated models of every mixer variant: no spike differs (see
docs/passes.md). Refused: with ``structured=false``, a mixer whose dense weight ``(N * D)^2`` would exceed
``max_dense_weights`` (the structured form needs only ``K (N^2 + D^2)`` weights and refuses nothing).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node
from snncompile.passes.base import Pass, PassResult

MIXERS = (n.FourierMixer, n.WaveletMixer)


def refusal(graph: Graph, name: str, structured: bool = True, max_dense_weights: int = 1 << 24) -> str | None:
    """Why the mixer ``name`` cannot become fixed synapses in the requested form, or None."""
    size = int(np.prod(graph.types[name].shape)) ** 2
    if not structured and size > max_dense_weights:
        return f"dense weight would have {size} entries > max_dense_weights {max_dense_weights}; use structured"
    return None


def _channel(mixer: n.FourierMixer | n.WaveletMixer, k: int, dim: int) -> np.ndarray:
    return np.eye(dim) if mixer.channel_basis is None else mixer.channel_basis[k]


def _structured(mixer: n.FourierMixer | n.WaveletMixer, name: str, src: str, fresh: FreshNames
                ) -> tuple[dict[str, Node], list[Edge]]:
    """The terms as token and channel synapse layers, scaled and summed into an Add named ``name``."""
    nodes: dict[str, Node] = {}

    def add(base: str, node: Node) -> str:
        key = fresh(base)
        nodes[key] = node
        return key

    first = add(f"{name}.tokens_first", n.Transpose(perm=(1, 0)))
    edges = [Edge(src, first)]
    for k in range(mixer.token_basis.shape[0]):
        chain = [n.Linear(weight=mixer.token_basis[k]), n.Transpose(perm=(1, 0))]
        labels = ["tokens", "channels_last"]
        if mixer.channel_basis is not None:
            chain.append(n.Linear(weight=mixer.channel_basis[k]))
            labels.append("channels")
        chain.append(n.Scale(scale=np.asarray(mixer.weights[k])))
        labels.append("scale")
        prev = first
        for label, node in zip(labels, chain, strict=True):
            key = add(f"{name}.{k}.{label}", node)
            edges.append(Edge(prev, key))
            prev = key
        edges.append(Edge(prev, name))
    nodes[name] = n.Add()
    return nodes, edges


def _dense(mixer: n.FourierMixer | n.WaveletMixer, name: str, src: str, fresh: FreshNames, shape: tuple[int, ...]
           ) -> tuple[dict[str, Node], list[Edge]]:
    """One synapse over the flattened tokens with the Kronecker weight, reshaped back into ``name``."""
    dim = shape[1]
    weight = sum(mixer.weights[k] * np.kron(mixer.token_basis[k], _channel(mixer, k, dim))
                 for k in range(mixer.token_basis.shape[0]))
    flat, dense = fresh(f"{name}.flat"), fresh(f"{name}.dense")
    nodes = {flat: n.Flatten(), dense: n.Linear(weight=weight), name: n.Reshape(shape=shape)}
    return nodes, [Edge(src, flat), Edge(flat, dense), Edge(dense, name)]


@dataclasses.dataclass(frozen=True)
class MixerToFixedSynapses(Pass):
    name = "mixer-to-fixed-synapses"
    structured: bool = True
    max_dense_weights: int = 1 << 24

    def rewrite(self, graph: Graph) -> PassResult:
        nodes: dict[str, Node] = {}
        edges = [e for e in graph.edges if not isinstance(graph.nodes[e.dst], MIXERS)]
        refusals, changed = [], False
        fresh = FreshNames(graph.nodes)
        for name, node in graph.nodes.items():
            if not isinstance(node, MIXERS):
                nodes[name] = node
                continue
            reason = refusal(graph, name, self.structured, self.max_dense_weights)
            if reason is not None:
                refusals.append(self.refuse(name, reason))
                nodes[name] = node
                edges += [e for e in graph.edges if e.dst == name]
                continue
            src = self._source(graph, name, fresh, nodes, edges)
            new, new_edges = (_structured(node, name, src, fresh) if self.structured
                              else _dense(node, name, src, fresh, graph.types[name].shape))
            nodes.update(new)
            edges += new_edges
            changed = True
        return PassResult(graph.replace(nodes=nodes, edges=edges), changed, tuple(refusals))

    @staticmethod
    def _source(graph: Graph, name: str, fresh: FreshNames, nodes: dict[str, Node], edges: list[Edge]) -> str:
        """The single node feeding the mixer; several edges into its port are first summed by an Add."""
        srcs = graph.sources(name)["input"]
        if len(srcs) == 1:
            return srcs[0]
        total = fresh(f"{name}.input")
        nodes[total] = n.Add()
        edges += [Edge(s, total) for s in srcs]
        return total
