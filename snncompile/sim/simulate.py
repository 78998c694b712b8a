"""The reference simulator: runs an IR graph for T steps on a batch. It defines the IR's semantics.

At every step nodes run in topological order; each port receives the sum of its incoming edges (summed in edge
order); stateful nodes carry their state to the next step. A Previous node gives the sum on its input at the previous
step (zeros at the first): it is read when the step starts and written when the step ends, which is what makes
recurrent cycles run. Arithmetic is float64 by default (float32 on request), on
the CPU, vectorised over the batch with torch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from snncompile.errors import SnnError
from snncompile.ir import Graph, verify
from snncompile.ir.nodes import NEURONS, Input, Previous
from snncompile.sim.activity import Activity
from snncompile.sim.counters import state_counts, step_counts
from snncompile.sim.kernels import make_kernel


@dataclass
class SimResult:
    outputs: dict[str, np.ndarray]  # Output node -> [T, B, *shape]
    activity: Activity
    states: dict[str, np.ndarray]  # probed neuron -> membrane after each step, [T, B, *shape]
    traces: dict[str, np.ndarray]  # traced node -> output at each step, [T, B, *shape]

    @property
    def output(self) -> np.ndarray:
        """The single Output's values (error if the graph has several)."""
        if len(self.outputs) != 1:
            raise SnnError(f"the graph has {len(self.outputs)} outputs; pick one of {sorted(self.outputs)}")
        return next(iter(self.outputs.values()))


def _as_inputs(graph: Graph, inputs: np.ndarray | torch.Tensor | Mapping[str, np.ndarray | torch.Tensor],
               dtype: torch.dtype) -> dict[str, torch.Tensor]:
    if not isinstance(inputs, Mapping):
        if len(graph.inputs) != 1:
            raise SnnError(f"the graph has inputs {graph.inputs}; pass a dict of arrays, one per input")
        inputs = {graph.inputs[0]: inputs}
    out = {}
    for name in graph.inputs:
        if name not in inputs:
            raise SnnError(f"no data for graph input '{name}'")
        given = inputs[name]
        x = given if isinstance(given, torch.Tensor) else torch.tensor(np.asarray(given))
        want = graph.types[name].shape
        if x.dim() != len(want) + 2 or tuple(x.shape[2:]) != want:
            raise SnnError(f"input '{name}' must be [T, B, {', '.join(map(str, want))}], got {list(x.shape)}")
        out[name] = x.to(dtype)
    lead = {name: tuple(x.shape[:2]) for name, x in out.items()}
    if len(set(lead.values())) > 1:
        raise SnnError("every input needs the same T and batch size; got "
                       + ", ".join(f"'{k}': T = {t}, B = {b}" for k, (t, b) in lead.items()))
    unknown = sorted(set(inputs) - set(graph.inputs))
    if unknown:
        raise SnnError(f"data for {', '.join(map(repr, unknown))}, which are not inputs of the graph "
                       f"(inputs: {', '.join(graph.inputs)})")
    return out


def _val(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().copy()


def simulate(graph: Graph, inputs: np.ndarray | torch.Tensor | Mapping[str, np.ndarray | torch.Tensor], *,
             dtype: torch.dtype = torch.float64, probes: Collection[str] = (), trace: Collection[str] = ()
             ) -> SimResult:
    """Run ``graph`` on ``inputs`` (``[T, B, *shape]`` per Input node) and record outputs and activity.

    ``probes``: neuron nodes whose membrane state to return; ``trace``: nodes whose outputs to return.
    """
    verify(graph)
    xs = _as_inputs(graph, inputs, dtype)
    steps, batch = next(iter(xs.values())).shape[:2]
    kernels = {name: make_kernel(graph.nodes[name], graph.dt, dtype) for name in graph.order
               if not isinstance(graph.nodes[name], Input | Previous)}
    held = {m: torch.zeros((batch,) + graph.types[m].shape, dtype=dtype) for m in graph.previous}  # Previous.type
    sources = {name: graph.sources(name) for name in graph.order}
    spiking = [m for m in graph.order if isinstance(graph.nodes[m], NEURONS) and graph.types[m].kind == "binary"]
    eventful = [m for m in graph.order if graph.nodes[m].events]
    spikes = {m: np.zeros((steps,) + graph.types[m].shape, np.int64) for m in spiking}
    events = {m: {p: np.zeros((steps,) + t.shape, np.int64) for p, t in graph.port_types(m).items()}
              for m in eventful}
    port_types = {m: graph.port_types(m) for m in graph.order}
    counts: dict[str, dict[str, list[np.ndarray]]] = {}
    outputs: dict[str, list[np.ndarray]] = {m: [] for m in graph.outputs}
    states: dict[str, list[np.ndarray]] = {m: [] for m in probes}
    traces: dict[str, list[np.ndarray]] = {m: [] for m in trace}
    state: dict[str, Any] = {}  # each kernel's own state
    with torch.no_grad():
        for t in range(steps):
            values: dict[str, torch.Tensor] = {}
            for name in graph.order:
                if name in xs:
                    values[name] = xs[name][t]
                    continue
                if name in held:
                    values[name] = held[name]
                    continue
                ports = {p: _sum([values[s] for s in srcs]) for p, srcs in sources[name].items()}
                before = state.get(name)
                values[name], state[name] = kernels[name].step(ports, before)
                if name in events:
                    for p, x in ports.items():
                        events[name][p][t] = (x != 0).sum(0).numpy()
                found = {**step_counts(graph.nodes[name], ports, port_types[name]),
                         **state_counts(graph.nodes[name], before, state[name])}
                for key, c in found.items():
                    counts.setdefault(name, {}).setdefault(key, []).append(_val(c))
            for m in held:
                held[m] = _sum([values[s] for s in sources[m]["input"]])
            for m in spiking:
                spikes[m][t] = values[m].sum(0).to(torch.int64).numpy()
            for m in outputs:
                outputs[m].append(_val(values[m]))
            for m in states:
                st = state[m]
                states[m].append(_val(st[-1] if isinstance(st, tuple) else st))
            for m in traces:
                traces[m].append(_val(values[m]))
    extra = {m: {k: np.stack(v) for k, v in c.items()} for m, c in counts.items()}
    return SimResult({m: np.stack(v) for m, v in outputs.items()}, Activity(steps, batch, spikes, events, extra),
                     {m: np.stack(v) for m, v in states.items()}, {m: np.stack(v) for m, v in traces.items()})


def _sum(xs: list[torch.Tensor]) -> torch.Tensor:
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total
