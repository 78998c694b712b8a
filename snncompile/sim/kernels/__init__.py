"""One implementation per IR node class: the executable definition of each node's equation.

``make_kernel(node, dt, dtype)`` returns a Kernel whose ``step(inputs, state)`` maps the summed value on each port
(tensors ``[B, *shape]``) and the node's state from step t-1 to its output and new state at step t. Floating-point
operations are written in exactly the order of the equations in the node docstrings (snncompile.ir.nodes), so that a
PyTorch model computing the same expressions gives bit-identical results.

Kernels live in one module per node family, registered with ``@kernel(NodeClass)``; importing this package
imports them all.
"""

from snncompile.sim.kernels import core, dssa, loihi, mixers, qk, static_masks, tokens  # noqa: F401 - registers kernels
from snncompile.sim.kernels.registry import Kernel, kernel, make_kernel

__all__ = ["Kernel", "kernel", "make_kernel"]
