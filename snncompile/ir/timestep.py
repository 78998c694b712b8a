"""Is the time step small against the neurons' time constants?

Every leaky neuron is one forward-Euler step per ``dt`` (nodes/neurons.py): ``v[t] = v[t-1] + (... - v[t-1]) * dt /
tau``, so its state decays by the factor ``1 - dt / tau`` per step. With ``dt > tau`` that factor is negative and the
state overshoots and oscillates instead of decaying: almost always a ``dt`` in the wrong unit (NIR files store no time
step, and other tools' time constants are often in seconds, e.g. ``tau = 2.5e-3``). ``dt = tau`` (factor 0) and the
spiking transformers' ``dt = 1, tau = 2`` (factor 1/2, SpikingJelly's LIF) are the intended discrete-time models.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from snncompile.ir.graph import Graph

TIME_CONSTANTS = {"LIF": ("tau",), "LI": ("tau",), "CubaLIF": ("tau_syn", "tau_mem"), "CubaLI": ("tau_syn", "tau_mem")}
"""Neuron op -> its time-constant fields (each an array broadcast to the neuron shape)."""


@dataclass(frozen=True)
class CoarseStep:
    """A neuron whose smallest time constant is below ``dt``."""

    node: str
    op: str
    field: str
    tau: float


def coarse_steps(graph: Graph) -> list[CoarseStep]:
    """The neurons, in graph order, with an element whose time constant is smaller than ``graph.dt``; for each, its
    smallest time constant."""
    found = []
    for name, node in graph.nodes.items():
        taus = [(float(np.min(getattr(node, f))), f) for f in TIME_CONSTANTS.get(node.op, ())
                if np.size(getattr(node, f))]
        if taus and min(taus)[0] < graph.dt:
            tau, field = min(taus)
            found.append(CoarseStep(name, node.op, field, tau))
    return found


def warn_coarse_step(graph: Graph, where: str) -> None:
    """One ``warnings.warn`` line when ``coarse_steps`` finds any: the first node, dt, its smallest tau, the count."""
    found = coarse_steps(graph)
    if not found:
        return
    first = found[0]
    others = f" (and {len(found) - 1} more neuron nodes)" if len(found) > 1 else ""
    warnings.warn(f"{where}: dt = {graph.dt:g} is larger than {first.field} = {first.tau:g} of node '{first.node}' "
                  f"({first.op}){others}, so forward Euler's decay factor 1 - dt/tau is negative and the state "
                  "oscillates; pass a --dt smaller than the time constants (same unit)", stacklevel=2)
