"""Activity that reports need beyond spikes and input events, counted per step and summed over the batch.

* ``payload.<port>``: the summed magnitude of graded (integer) inputs of a synapse-like node, so that an input of
  value k can be costed as k accumulates ("integer inputs as AC") as well as one event ("as MAC").
* ``coincidences`` (SpikeMatMul): per output element, the number of ``k`` with ``A[i, k] != 0`` and
  ``B[k, j] != 0`` -- the accumulates an event-driven core performs; ``coincidence_payload`` sums ``|A| |B|`` over
  the same ``k`` where an operand is graded. These are per sample products and cannot be recovered from summed
  event counts, so the simulator counts them.
* ``inputs`` (neurons): the number of neurons that received a non-zero input (an "active" update on Loihi).
"""

from __future__ import annotations

import torch

from snncompile.ir import nodes as n
from snncompile.ir.types import Kind, TensorType


def _operand(x: torch.Tensor, transpose: bool) -> torch.Tensor:
    return x.transpose(-1, -2) if transpose else x


def step_counts(node: n.Node, ports: dict[str, torch.Tensor], types: dict[str, TensorType]
                ) -> dict[str, torch.Tensor]:
    """The extra counts of one node at one step (batch summed)."""
    counts: dict[str, torch.Tensor] = {}
    if node.events:
        for port, x in ports.items():
            if types[port].kind == Kind.GRADED:
                counts[f"payload.{port}"] = x.abs().sum(0)
    if isinstance(node, n.SpikeMatMul):
        a, b = _operand(ports["a"], node.transpose_a), _operand(ports["b"], node.transpose_b)
        counts["coincidences"] = ((a != 0).to(a.dtype) @ (b != 0).to(b.dtype)).sum(0)
        if Kind.GRADED in (types["a"].kind, types["b"].kind) and Kind.REAL not in (types["a"].kind, types["b"].kind):
            counts["coincidence_payload"] = (a.abs() @ b.abs()).sum(0)
    if isinstance(node, n.NEURONS):
        counts["inputs"] = (ports["input"] != 0).sum(0).to(ports["input"].dtype)
    return counts
