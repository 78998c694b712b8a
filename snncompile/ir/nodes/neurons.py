"""Neuron nodes: state carried from step t-1 to step t; ``dt`` is the graph's.

Every equation below is one forward-Euler step, evaluated in exactly this order by the reference simulator.
Parameters are arrays that broadcast to the neuron shape (the input shape). Spiking neurons carry how they compare
(``fire``: NIR's ``>`` or the spiking transformers' ``>=``) and how they reset (``reset``: ``hard`` sets
``v = v_reset``, ``subtract`` sets ``v = h - v_threshold``). Initial state: ``v = v_leak`` for leaky neurons (the
resting potential), 0 for everything else. Time constants (``tau``, ``tau_syn``, ``tau_mem``) must be positive: the
update divides by them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.errors import IRError
from snncompile.ir.node import Node, broadcastable, require, single
from snncompile.ir.types import Kind, TensorType

FIRE_OPS = (">", ">=")
RESETS = ("hard", "subtract")
LIF_FORMS = ("nir", "split", "nir_k", "split_k")
TIME_CONSTANTS = ("tau", "tau_syn", "tau_mem")


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class _Neuron(Node):
    stateful = True
    spiking = False

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        for f in self.arrays:
            require(broadcastable(getattr(self, f), t.shape), name,
                    f"{f} of shape {getattr(self, f).shape} does not broadcast to input {t}")
        for f in TIME_CONSTANTS:
            tau = getattr(self, f, None)
            if tau is not None and np.size(tau) and not np.all(tau > 0):
                raise IRError(name, f"{f} must be positive (a time constant; the update divides by it), "
                                    f"got {float(np.min(tau)):g}")
        if self.spiking:
            fire = getattr(self, "fire", ">")
            require(fire in FIRE_OPS, name, f"fire must be one of {FIRE_OPS}, got {fire!r}")
            reset = getattr(self, "reset", "hard")
            require(reset in RESETS, name, f"reset must be one of {RESETS}, got {reset!r}")
        form = getattr(self, "form", "nir")
        require(form in LIF_FORMS, name, f"form must be one of {LIF_FORMS}, got {form!r}")
        return TensorType(t.shape, Kind.BINARY if self.spiking else Kind.REAL)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class I(_Neuron):  # noqa: E742 - NIR's name
    """Integrator: ``v[t] = v[t-1] + dt * r * x[t]``; output v."""

    op = "I"
    primitive = True
    arrays = ("r",)
    r: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LI(_Neuron):
    """Leaky integrator: ``v[t] = v[t-1] + (v_leak - v[t-1] + r * x[t]) * dt / tau``; output v."""

    op = "LI"
    primitive = True
    arrays = ("tau", "r", "v_leak")
    tau: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class IF(_Neuron):
    """Integrate-and-fire:
    ``h = v[t-1] + dt * r * x[t]``; ``s = h (fire) v_threshold``; ``v[t] = reset(h, s)``; output s."""

    op = "IF"
    primitive = True
    spiking = True
    arrays = ("r", "v_threshold", "v_reset")
    r: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    fire: str = ">"
    reset: str = "hard"


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LIF(_Neuron):
    """Leaky integrate-and-fire:
    ``h = v[t-1] + (v_leak - v[t-1] + r * x[t]) * dt / tau``; ``s = h (fire) v_threshold``;
    ``v[t] = v_reset if s else h`` (hard) or ``h - s * v_threshold`` (subtract); output s.
    With dt = 1, tau = 2, r = 1, v_leak = 0 this is SpikingJelly's decay_input LIF ``H = V + (X - V) / tau``.

    ``form`` picks the float evaluation order of ``h`` (with ``v = v[t-1]``, ``k = dt / tau`` rounded once);
    all four are the same equation in exact arithmetic, so a NIR tool reads every form as the same neuron:
    ``nir`` ``v + (v_leak - v + r * x) * dt / tau``; ``split`` ``v - (v - v_leak) * dt / tau + r / tau * x * dt``;
    ``nir_k`` ``v + (v_leak - v + r * x) * k``; ``split_k`` ``v - (v - v_leak) * k + r / tau * x * dt``.
    They let a frontend reproduce a framework's rounding: SpikingJelly's ``decay_input=False`` is ``split`` with
    ``r = tau``; its ParametricLIFNode multiplies by ``k = sigmoid(w)`` (``nir_k`` / ``split_k``)."""

    op = "LIF"
    primitive = True
    spiking = True
    arrays = ("tau", "r", "v_leak", "v_threshold", "v_reset")
    tau: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    fire: str = ">"
    reset: str = "hard"
    form: str = "nir"


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class CubaLI(_Neuron):
    """Current-based leaky integrator:
    ``i[t] = i[t-1] + (w_in * x[t] - i[t-1]) * dt / tau_syn``;
    ``v[t] = v[t-1] + (v_leak - v[t-1] + r * i[t]) * dt / tau_mem``; output v."""

    op = "CubaLI"
    primitive = True
    arrays = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
    tau_syn: np.ndarray
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    w_in: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class CubaLIF(_Neuron):
    """Current-based LIF: the CubaLI update of ``i`` and ``h`` (``h`` in place of ``v``), then
    ``s = h (fire) v_threshold``; ``v[t] = reset(h, s)``; output s."""

    op = "CubaLIF"
    primitive = True
    spiking = True
    arrays = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
    tau_syn: np.ndarray
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    w_in: np.ndarray
    fire: str = ">"
    reset: str = "hard"


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Threshold(_Neuron):
    """Stateless threshold: ``s = x (fire) threshold``; output s (binary)."""

    op = "Threshold"
    primitive = True
    stateful = False
    spiking = True
    arrays = ("threshold",)
    threshold: np.ndarray
    fire: str = ">"
