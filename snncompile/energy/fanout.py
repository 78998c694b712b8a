"""Fan-out of every input position of a synapse-like node: how many output elements it reaches through a
non-zero weight. ``events x fan-out`` is then the exact number of synaptic operations, borders included.

The fan-out is computed from the node's own simulator kernel: every weight replaced by 1 where it is non-zero (0
elsewhere) and the bias by 0, the kernel's output summed and differentiated with respect to an all-ones input.
That is the column count of the connection matrix, exact for padding, stride, dilation and groups.
"""

from __future__ import annotations

import numpy as np
import torch

from snncompile.errors import UnsupportedError
from snncompile.ir import nodes as n
from snncompile.ir.types import TensorType
from snncompile.sim.kernels import make_kernel

FANOUT_NODES = (n.Affine, n.Linear, n.Conv1d, n.Conv2d, n.SumPool2d, n.AvgPool2d,  # unannotated: isinstance
                n.HeadSum, n.TokenSum, n.Sum, n.LoihiDense, n.LoihiConv2d)           # narrows to these classes


def _connections(node: n.Node, all_weights: bool) -> n.Node:
    """The same node with 0/1 weights (1 = a synapse exists; every weight with ``all_weights``) and no bias;
    average pooling as a sum."""
    if isinstance(node, n.AvgPool2d):
        return n.SumPool2d(kernel_size=node.kernel_size, stride=node.stride, padding=node.padding)
    if isinstance(node, n.LoihiDense):  # the fixed-point synapses as the float ones they count like
        return _connections(n.Linear(weight=node.weight), all_weights)
    if isinstance(node, n.LoihiConv2d):
        return _connections(n.Conv2d(weight=node.weight, bias=np.zeros(len(node.weight)), stride=node.stride,
                                     padding=node.padding, dilation=node.dilation, groups=node.groups), all_weights)
    changes = {}
    if isinstance(node, n.SYNAPSES):
        changes["weight"] = np.ones(node.weight.shape) if all_weights else (node.weight != 0).astype(np.float64)
    if isinstance(node, (n.Affine, n.Conv1d, n.Conv2d)):
        changes["bias"] = np.zeros_like(node.bias)
    return node.replace(**changes) if changes else node


def fanout(node: n.Node, name: str, inp: TensorType, all_weights: bool = False) -> np.ndarray:
    """Fan-out per input position, shape ``inp.shape`` (int64); ``all_weights``: zero weights count too (the
    ``dense`` count of tools that skip no weight)."""
    if not isinstance(node, FANOUT_NODES):
        raise UnsupportedError(f"node '{name}' ({node.op}): no fan-out rule; supported: "
                               f"{', '.join(c.op for c in FANOUT_NODES)}")
    x = torch.ones((1,) + inp.shape, dtype=torch.float64, requires_grad=True)
    y, _ = make_kernel(_connections(node, all_weights), 1.0, torch.float64).step({"input": x}, None)
    y.sum().backward()
    assert x.grad is not None  # backward() fills the gradient of a leaf that requires it
    return np.rint(x.grad[0].numpy()).astype(np.int64)
