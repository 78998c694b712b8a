"""SpikingJelly 2.x neurons -> IR neuron nodes that reproduce SpikingJelly's float operations bit for bit.

SpikingJelly (``spikingjelly.activation_based``) is optional: without it nothing is registered. Its layers
(``layer.Conv2d``, ``layer.Linear``, ``layer.BatchNorm2d``, ``layer.MaxPool2d``, ``layer.Flatten``, ...) subclass
torch's and convert as torch's. Its neurons compute (SpikingJelly 2.0.0, ``spikingjelly/_ops/*/reference.py``;
``Vr`` is ``v_reset``, or 0.0 with soft reset ``v_reset=None``; the first step starts from ``V = Vr``)::

    LIFNode            decay_input=True    H = V + (X - (V - Vr)) / tau       -> LIF form "nir",     r = 1
                       decay_input=False   H = V - (V - Vr) / tau + X         -> LIF form "split",   r = tau
    ParametricLIFNode  decay_input=True    H = V + (X - (V - Vr)) * k         -> LIF form "nir_k",   r = 1
                       decay_input=False   H = V - (V - Vr) * k + X           -> LIF form "split_k", r = tau
                       (k = sigmoid(w) read from the module, tau chosen so that 1 / tau rounds to k)
    IFNode                                 H = V + X                          -> IF, r = 1
    all                S = heaviside(H - V_th) = (H >= V_th)                   -> fire ">="
                       hard: V = S * Vr + (1 - S) * H,  soft: V = H - S * V_th -> reset "hard" / "subtract"

with ``v_leak = v_reset = Vr`` (the IR LIF starts at ``v_leak``, SpikingJelly at ``Vr``) and dt = 1. The IR
kernels evaluate the same operations: ``x - (v - Vr)`` equals ``(Vr - v) + x`` exactly (round-to-nearest is
symmetric), multiplications by r = 1 or dt = 1 are exact, ``r / tau`` is exactly 1 when r = tau, and
``H - V_th >= 0`` holds exactly when ``H >= V_th`` (IEEE subtraction never rounds a non-zero difference to 0).
For torch's float64 ``sigmoid(w)`` a ``tau`` with ``1 / tau == k`` existed for every one of 2 M random ``w`` (a
factor that is itself a rounded reciprocal always has one; about one arbitrary float in six has none); for a factor
without one the node multiplies by a factor one ulp from ``k`` and a warning says so (docs/spikingjelly.md).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from snncompile.errors import UnsupportedError
from snncompile.ir import nodes as n
from snncompile.ir.node import Node

try:
    from spikingjelly.activation_based import base as sj_base
    from spikingjelly.activation_based import layer as sj_layer
    from spikingjelly.activation_based import neuron as sj_neuron
except ImportError:  # SpikingJelly is optional
    sj_base = sj_layer = sj_neuron = None
if sj_neuron is not None and not hasattr(sj_neuron.LIFNode, "single_step_functional_forward"):
    sj_base = sj_layer = sj_neuron = None  # SpikingJelly 0.0.0.0.14's activation_based: see legacy_neurons

Shape = tuple[int, ...]
# A SpikingJelly neuron of any release (2.x here, the older ones in legacy_neurons): SpikingJelly ships no type
# information, so its attributes (tau, v_threshold, surrogate_function, ...) are read untyped.
SJNeuron = Any
# Any: each converter takes an instance of the module type it is registered under, which a dict cannot express.
Converter = Callable[[Any, Shape, Shape, str], Node]


class _NeuronConverter(Protocol):
    def __call__(self, m: SJNeuron, inp: Shape, out: Shape, path: str, step_mode: str = "s") -> Node: ...


# Methods whose behaviour the mapping assumes; a subclass overriding one of them is refused.
_STEP_METHODS = ("forward", "single_step_forward", "single_step_functional_forward", "materialize_states")


def _check(m: SJNeuron, cls: type, path: str, step_mode: str = "s") -> None:
    """Refuse what the mapping does not describe: overridden step code, non-spiking surrogates, another step mode
    than the tracer's (``"s"``: the per-step tracers; ``"m"``: ``snncompile.frontend.multistep``)."""
    def refuse(what: str) -> UnsupportedError:
        return UnsupportedError(f"module '{path}' ({type(m).__name__}): {what}")

    changed = [name for name in _STEP_METHODS if getattr(type(m), name) is not getattr(cls, name)]
    if changed:
        raise refuse(f"overrides {', '.join(changed)} of SpikingJelly's {cls.__name__}; only the stock neuron "
                     "equations are supported")
    if m.step_mode != step_mode and step_mode == "s":
        raise refuse("is in multi-step mode inside a step() model; trace the model without step() (its forward "
                     "is traced on a single-step copy) or set step_mode='s'")
    if m.step_mode != step_mode:
        raise refuse("is in single-step mode inside a multi-step forward (it would see all T steps as one); set "
                     "step_mode='m' or trace a per-step model")
    if getattr(m, "_neuron_precision", None) is not None:
        raise refuse("reduced neuron precision (set_neuron_precision) is not supported")
    check_values(m, refuse)


def check_values(m: SJNeuron, refuse: Callable[[str], UnsupportedError]) -> None:
    """The checks every SpikingJelly release's neuron needs: spiking surrogate, float threshold and reset."""
    if not getattr(m.surrogate_function, "spiking", True):
        raise refuse("its surrogate function is in non-spiking mode (continuous outputs)")
    if not isinstance(m.v_threshold, float) or not isinstance(m.v_reset, float | None):
        raise refuse("v_threshold must be a float and v_reset a float or None")


def reset_params(m: SJNeuron) -> dict:
    """IR reset parameters: SpikingJelly's soft reset (v_reset None) charges towards 0 and subtracts V_th."""
    hard = m.v_reset is not None
    return {"v_threshold": m.v_threshold, "v_reset": m.v_reset if hard else 0.0, "fire": ">=",
            "reset": "hard" if hard else "subtract"}


def _tau_for(k: float, path: str) -> float:
    """A float64 tau with ``1 / tau == k`` exactly (searched among the neighbours of ``1 / k``), so the kernel's
    ``k = dt / tau`` is SpikingJelly's factor; warns when none exists."""
    first = np.float64(1.0) / np.float64(k)
    candidates, up, down = [first], first, first
    for _ in range(3):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        candidates += [up, down]
    exact = [tau for tau in candidates if np.float64(1.0) / tau == k]
    if exact:
        return float(exact[0])
    warnings.warn(f"module '{path}': no float64 tau has 1 / tau == sigmoid(w) = {k!r}; its decay factor is off by "
                  "one ulp, so a spike can differ where the membrane lands within ~1e-16 of the threshold",
                  stacklevel=2)
    return float(first)


def plif_tau(m: SJNeuron, path: str) -> float:
    """The tau of a ParametricLIFNode (any release): ``1 / tau == sigmoid(w)``, the factor it multiplies by."""
    return _tau_for(float(torch.sigmoid(m.w.detach().to(torch.float64))), path)


def neuron_node(m: SJNeuron, kind: str, path: str) -> Node:
    """The IR node of a checked SpikingJelly neuron of any release: ``kind`` "lif", "plif" or "if" (table above)."""
    reset = reset_params(m)
    if kind == "if":
        if m.v_reset not in (None, 0.0):
            raise UnsupportedError(f"module '{path}' ({type(m).__name__}): hard reset to v_reset = {m.v_reset} is "
                                   "not supported (the IR IF starts at 0, SpikingJelly's at v_reset); use v_reset 0.0 "
                                   "or None")
        return n.IF(r=np.asarray(1.0), **reset)
    tau = plif_tau(m, path) if kind == "plif" else float(m.tau)
    form = ("nir" if m.decay_input else "split") + ("_k" if kind == "plif" else "")
    return n.LIF(tau=np.asarray(tau), r=np.asarray(1.0 if m.decay_input else tau), v_leak=reset["v_reset"], form=form,
                 **reset)


def _lif(m: SJNeuron, inp: Shape, out: Shape, path: str, step_mode: str = "s") -> Node:
    _check(m, sj_neuron.LIFNode, path, step_mode)
    return neuron_node(m, "lif", path)


def _plif(m: SJNeuron, inp: Shape, out: Shape, path: str, step_mode: str = "s") -> Node:
    _check(m, sj_neuron.ParametricLIFNode, path, step_mode)
    return neuron_node(m, "plif", path)


def _if(m: SJNeuron, inp: Shape, out: Shape, path: str, step_mode: str = "s") -> Node:
    _check(m, sj_neuron.IFNode, path, step_mode)
    return neuron_node(m, "if", path)


def _other(m: SJNeuron, inp: Shape, out: Shape, path: str, step_mode: str = "s") -> Node:
    raise UnsupportedError(f"module '{path}' ({type(m).__name__}): this stateful SpikingJelly module is not "
                           "supported; supported SpikingJelly neurons: IFNode, LIFNode, ParametricLIFNode")


FAMILY_MODULES: dict[type[nn.Module], _NeuronConverter] = {} if sj_base is None else {
    sj_neuron.LIFNode: _lif,
    sj_neuron.ParametricLIFNode: _plif,
    sj_neuron.IFNode: _if,
    sj_base.MemoryModule: _other,
}
MULTI_STEP_NEURONS: dict[type[nn.Module], Converter] = {
    cls: functools.partial(convert, step_mode="m") for cls, convert in FAMILY_MODULES.items()
    if convert is not _other}
"""The same converters for ``snncompile.frontend.multistep``, where the neurons run in step mode ``'m'``."""
# SpikingJelly's dropout is stateful (its mask); in eval mode it passes its input through.
EVAL_IDENTITY: tuple[type[nn.Module], ...] = () if sj_base is None else (sj_layer.Dropout,)
# SpikingJelly's stateful modules keep their state in ``_memories`` and have reset(); the tracer saves and restores it.
STATEFUL_MODULES: tuple[type[nn.Module], ...] = () if sj_base is None else (sj_base.MemoryModule,)
