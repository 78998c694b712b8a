"""Activity that reports need beyond spikes and input events, counted per step and summed over the batch.

* ``payload.<port>``: the summed magnitude of graded (integer) inputs of a synapse-like node, so that an input of
  value k can be costed as k accumulates ("integer inputs as AC") as well as one event ("as MAC").
* ``coincidences`` (SpikeMatMul): per output element, the number of ``k`` with ``A[i, k] != 0`` and
  ``B[k, j] != 0`` -- the accumulates an event-driven core performs; ``coincidence_payload`` sums ``|A| |B|`` over
  the same ``k`` where an operand is graded (a real operand counts 1 there: it is the value the counts select).
  These are per sample products and cannot be recovered from summed event counts, so the simulator counts them.
* ``inputs`` (neurons): the number of neurons that received a non-zero input (an "active" update on Loihi).
* ``nonbinary.<port>`` / ``nonternary.<port>`` (every node with events): the input elements outside {0, 1} /
  outside {-1, 0, 1} at this step. Other tools decide by these whether an input is spikes: SpikingJelly's op counter
  counts synaptic operations only for a tensor that is exactly 0/1, NeuroBench for one in {-1, 0, 1}.
* ``changed`` (neurons with state, ``state_counts``): the neurons whose membrane state changed at this step, every
  neuron at the first step (NeuroBench's membrane updates).
* ``input_overflow`` (LoihiLIF): the neurons whose integer input left the 16 bits of Loihi's dendritic input,
  [-2**15, 2**15 - 1] (Lava's CPU model takes it unchanged; the chip would not: docs/fixed-point.md).
"""

from __future__ import annotations

from typing import Any

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
            if types[port].kind != Kind.BINARY:
                off = (x != 0) & (x != 1)
                counts[f"nonbinary.{port}"] = off.sum().to(x.dtype)
                counts[f"nonternary.{port}"] = (off & (x != -1)).sum().to(x.dtype)
    if isinstance(node, n.SpikeMatMul):
        a, b = _operand(ports["a"], node.transpose_a), _operand(ports["b"], node.transpose_b)
        counts["coincidences"] = ((a != 0).to(a.dtype) @ (b != 0).to(b.dtype)).sum(0)
        kinds = (types["a"].kind, types["b"].kind)
        if Kind.GRADED in kinds:  # a real operand is what the counts select: only the counts' magnitudes weigh
            pa = (a != 0).to(a.dtype) if kinds[0] == Kind.REAL else a.abs()
            pb = (b != 0).to(b.dtype) if kinds[1] == Kind.REAL else b.abs()
            counts["coincidence_payload"] = (pa @ pb).sum(0)
    if isinstance(node, n.NEURONS):
        counts["inputs"] = (ports["input"] != 0).sum(0).to(ports["input"].dtype)
    if isinstance(node, n.LoihiLIF):
        x = ports["input"]
        counts["input_overflow"] = ((x < -(2**15)) | (x > 2**15 - 1)).sum(0)
    return counts


def state_counts(node: n.Node, before: Any, after: Any) -> dict[str, torch.Tensor]:
    """The neuron's ``changed`` count at one step from its state before and after (None before the first step;
    a tuple state's last entry is the membrane)."""
    if not isinstance(node, n.NEURONS) or after is None:
        return {}
    new = after[-1] if isinstance(after, tuple) else after
    if before is None:
        return {"changed": torch.tensor(float(new.numel()), dtype=new.dtype)}
    old = before[-1] if isinstance(before, tuple) else before
    return {"changed": (new != old).sum().to(new.dtype)}
