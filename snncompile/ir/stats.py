"""Static size of a graph per node: parameters, neurons and synapses (connections with a weight).

Synapses are counted exactly: a token-wise Affine on ``[N, D_in]`` has ``N * D_in * D_out`` connections (one
weight matrix shared by N synapse sets), a convolution counts only kernel taps that land inside the input (not on
padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncompile.ir import nodes as n
from snncompile.ir.graph import Graph
from snncompile.ir.types import TensorType


@dataclass(frozen=True)
class NodeStats:
    name: str
    op: str
    type: TensorType
    params: int
    neurons: int
    synapses: int


def _valid_taps(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int) -> int:
    """Sum over output positions of the kernel taps that fall inside an input axis of ``size``."""
    pos = np.arange(out)[:, None] * stride - padding + np.arange(kernel)[None, :] * dilation
    return int(((pos >= 0) & (pos < size)).sum())


def synapse_count(node: n.Node, inp: TensorType, out: TensorType) -> int:
    if isinstance(node, n.Affine | n.Linear | n.LoihiDense):
        return int(np.prod(inp.shape[:-1], dtype=np.int64)) * node.weight.shape[0] * node.weight.shape[1]
    if isinstance(node, n.Conv2d | n.Conv1d | n.LoihiConv2d):
        w = node.weight
        axes = len(w.shape) - 2
        stride, padding, dilation = (tuple(np.broadcast_to(v, (axes,))) for v in
                                     (node.stride, node.padding, node.dilation))
        taps = 1
        for a in range(axes):
            taps *= _valid_taps(inp.shape[1 + a], w.shape[2 + a], stride[a], padding[a], dilation[a], out.shape[1 + a])
        return w.shape[0] * w.shape[1] * taps
    return 0


def node_stats(graph: Graph) -> list[NodeStats]:
    rows = []
    for name in graph.order:
        node, out = graph.nodes[name], graph.types[name]
        params = sum(int(getattr(node, f).size) for f in node.arrays if getattr(node, f) is not None)
        neurons = out.size if isinstance(node, n.NEURONS) else 0
        ports = graph.port_types(name)
        synapses = synapse_count(node, ports["input"], out) if "input" in ports else 0
        rows.append(NodeStats(name, node.op, out, params, neurons, synapses))
    return rows
