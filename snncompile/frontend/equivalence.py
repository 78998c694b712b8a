"""Layer-by-layer comparison of a torch model with its traced IR graph on the same input.

The traced graph names a module's node after the module path. Every module whose node outputs spikes (neurons,
max-pools of spikes, composite spiking attention leaves) is recorded with a forward hook at every step and compared
with the simulation's output of that node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from snncompile.frontend.fx_trace import untouched
from snncompile.ir import Graph
from snncompile.ir.types import Kind
from snncompile.sim import simulate


@dataclass(frozen=True)
class LayerMatch:
    name: str
    mismatches: int
    total: int
    torch_rate: float
    ir_rate: float


@dataclass(frozen=True)
class Equivalence:
    layers: tuple[LayerMatch, ...]
    max_output_diff: float

    @property
    def exact(self) -> bool:
        return all(m.mismatches == 0 for m in self.layers)


def torch_spikes(model: nn.Module, graph: Graph, x_seq: torch.Tensor) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Outputs ``[T, B, *shape]`` of every module whose graph node is binary, and the model's per-step outputs."""
    record: dict[str, list[np.ndarray]] = {}
    names = {m: name for name, m in model.named_modules()
             if name in graph.nodes and graph.types[name].kind == Kind.BINARY}

    def hook(module: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        record.setdefault(names[module], []).append(out.detach().numpy().copy())

    handles = [m.register_forward_hook(hook) for m in names]
    try:
        with untouched(model), torch.no_grad():
            outputs = np.stack([model.step(x_t).numpy() for x_t in x_seq])  # type: ignore[operator]  # see fx_trace
    finally:
        for h in handles:
            h.remove()
    return {k: np.stack(v) for k, v in record.items()}, outputs


def compare(model: nn.Module, graph: Graph, x_seq: torch.Tensor) -> Equivalence:
    """Run both on ``x_seq [T, B, *shape]`` in the dtype of ``x_seq`` (cast the model to match beforehand)."""
    return against_simulation(graph, x_seq, *torch_spikes(model, graph, x_seq))


def against_simulation(graph: Graph, x_seq: torch.Tensor, ref: dict[str, np.ndarray], ref_out: np.ndarray,
                       readout: bool = False) -> Equivalence:
    """Simulate ``graph`` on ``x_seq`` (in its dtype) and compare with reference spikes per node and outputs
    (``readout``: ``ref_out`` is the mean over T of the per-step outputs)."""
    sim = simulate(graph, x_seq.numpy(), dtype=x_seq.dtype, trace=list(ref))
    layers = tuple(LayerMatch(name, int((spikes != sim.traces[name]).sum()), spikes.size, float(spikes.mean()),
                              float(sim.traces[name].mean())) for name, spikes in ref.items())
    out = sim.output.mean(0) if readout else sim.output
    return Equivalence(layers, float(np.abs(out - ref_out).max()))
