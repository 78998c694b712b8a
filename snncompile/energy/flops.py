"""FLOPs by the spiking-transformer papers' formula: the dense multiply-adds of one time step, padding taps included.

Spikformer, QKFormer and FWformer (after the Spike-driven Transformer's appendix) cost a layer as
``fr x T x FLOPs`` with ``FLOPs_conv = k^2 x h_out x w_out x c_in x c_out`` and ``FLOPs_fc = i x o`` per token:
every weight meets every output position, whether or not the tap falls on padding and whether or not the weight is
zero. snncompile's own count (count.py) uses each input's exact fan-out instead, which is 4.1 % lower for a 3x3
conv with padding 1 at 32x32 and 16 % lower at 8x8. SpikingJelly's ``MACCounter`` uses the same formula for a dense
convolution.

* Conv1d, Conv2d, Affine, Linear: ``weight.size x output.size / out_channels`` (groups included: the weight holds
  ``c_in / groups`` input channels per output channel);
* SpikeMatMul: output elements x inner size;
* fixed sums (HeadSum, TokenSum, Sum): one addition per input element;
* pooling (SumPool2d, AvgPool2d): 0, the papers' formulas have no pooling term.
"""

from __future__ import annotations

from snncompile.ir import Graph
from snncompile.ir import nodes as n

WEIGHTED = (n.Affine, n.Linear, n.Conv1d, n.Conv2d)  # unannotated: isinstance narrows to these classes
POOLS = (n.SumPool2d, n.AvgPool2d)
SUMS = (n.HeadSum, n.TokenSum, n.Sum)


def matmul_flops(graph: Graph, name: str) -> int:
    """Multiply-adds of one SpikeMatMul product per step: output elements x inner size."""
    node, a = graph.nodes[name], graph.port_types(name)["a"].shape
    assert isinstance(node, n.SpikeMatMul)  # every caller passes one
    return graph.types[name].size * (a[-2] if node.transpose_a else a[-1])


def paper_flops(graph: Graph, name: str) -> int:
    """The papers' FLOPs of node ``name`` per step (0 for a node the formula does not cover)."""
    node = graph.nodes[name]
    if isinstance(node, WEIGHTED):
        return int(node.weight.size) * graph.types[name].size // int(node.weight.shape[0])
    if isinstance(node, n.SpikeMatMul):
        return matmul_flops(graph, name)
    if isinstance(node, SUMS):
        return graph.port_types(name)["input"].size
    return 0
