"""Accuracy and activity of a graph on a data set: static inputs ``x [N, *shape]`` (fed at every step) or
time-varying inputs ``x [N, T, *shape]`` (event frames, spike trains: step t gets ``x[:, t]``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from snncompile.errors import SnnError
from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.sim.activity import Activity
from snncompile.sim.simulate import simulate

SPIKING = (n.IF, n.LIF, n.CubaLIF)


@dataclass
class Evaluation:
    correct: int | None  # None: no labels
    total: int
    activity: Activity

    @property
    def accuracy(self) -> float | None:
        return None if self.correct is None else self.correct / self.total


def data_steps(graph: Graph, x: np.ndarray) -> int | None:
    """The T of time-varying data ``[N, T, *shape]``; None for static data ``[N, *shape]``. Raises SnnError (one
    line, both shapes) when ``x`` is neither for the graph's single input."""
    if len(graph.inputs) != 1:
        raise SnnError(f"the graph has {len(graph.inputs)} inputs ({', '.join(graph.inputs)}); data sets feed "
                       "graphs with one input")
    want = graph.types[graph.inputs[0]].shape
    if tuple(x.shape[1:]) == want:
        return None
    if x.ndim == len(want) + 2 and tuple(x.shape[2:]) == want:
        return int(x.shape[1])
    shape = ", ".join(map(str, want))
    raise SnnError(f"data x has shape {list(x.shape)}; the graph input '{graph.inputs[0]}' takes samples "
                   f"[N, {shape}] (static) or [N, T, {shape}] (time-varying)")


def resolve_steps(graph: Graph, x: np.ndarray, steps: int | None) -> int:
    """The number of steps to run: ``steps``, else the data's T, else the graph's ``steps`` metadata."""
    t = data_steps(graph, x)
    if t is not None and steps is not None and steps != t:
        raise SnnError(f"-T {steps} does not match the time-varying data, which has T = {t} steps")
    chosen = steps if steps is not None else t if t is not None else graph.metadata.get("steps")
    if chosen is None:
        raise SnnError("the graph stores no number of time steps and the data are static; pass -T")
    if isinstance(chosen, bool) or not isinstance(chosen, int | np.integer) or chosen < 1:
        raise SnnError(f"the number of time steps must be a positive integer, got {chosen!r}")
    return int(chosen)


def evaluate(graph: Graph, x: np.ndarray, y: np.ndarray | None, steps: int | None = None, *, batch_size: int = 256,
             dtype: torch.dtype = torch.float64, progress: Callable[[int], None] | None = None) -> Evaluation:
    """Simulate every sample; with labels ``y``, predicted class = argmax of the single output (a vector of class
    scores) averaged over the steps. ``steps`` defaults as ``resolve_steps`` says."""
    steps = resolve_steps(graph, x, steps)
    temporal = data_steps(graph, x) is not None
    if len(x) == 0:
        raise SnnError("the data set holds no samples")
    if batch_size < 1:
        raise SnnError(f"the batch size must be a positive integer, got {batch_size}")
    if y is not None:
        _check_labels(graph, x, y)
    correct, activity = 0, None
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]
        xb = np.swapaxes(chunk, 0, 1) if temporal else np.broadcast_to(chunk, (steps,) + chunk.shape)
        result = simulate(graph, xb, dtype=dtype)
        if y is not None:
            pred = result.output.mean(0).argmax(-1)
            correct += int((pred == y[start:start + batch_size]).sum())
        activity = result.activity if activity is None else activity.merge(result.activity)
        if progress is not None:
            progress(len(chunk))
    assert activity is not None  # x holds a sample (checked above), so one batch ran
    for name in silent_layers(graph, activity):
        warnings.warn(f"layer '{name}' ({graph.nodes[name].op}, {graph.types[name].size:,} neurons) receives input "
                      f"but never fired in {steps} steps x {len(x)} samples; check the time step (dt = "
                      f"{graph.dt:g}: is it small against the neurons' time constants?) and the input's scale",
                      stacklevel=2)
    return Evaluation(correct if y is not None else None, len(x), activity)


def silent_layers(graph: Graph, activity: Activity) -> list[str]:
    """IF/LIF/CubaLIF layers that received non-zero input at some step but never spiked."""
    return [name for name, spikes in activity.spikes.items()
            if isinstance(graph.nodes[name], SPIKING) and not spikes.any() and activity.counts[name]["inputs"].any()]


def _check_labels(graph: Graph, x: np.ndarray, y: np.ndarray) -> None:
    if len(graph.outputs) != 1:
        raise SnnError(f"the graph has {len(graph.outputs)} outputs ({', '.join(graph.outputs)}); accuracy needs "
                       "one output of class scores (give data without labels y for firing rates only)")
    out = graph.types[graph.outputs[0]]
    if len(out.shape) != 1:
        raise SnnError(f"output '{graph.outputs[0]}' is {list(out.shape)}, not a vector of class scores, so there is "
                       "no accuracy to compute; give data without labels y for firing rates only")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise SnnError(f"labels y must be integers of shape [{len(x)}] (one per sample), got {y.dtype} "
                       f"{list(y.shape)}")
