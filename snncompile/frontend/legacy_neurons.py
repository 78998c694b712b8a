"""Multi-step neurons of the SpikingJelly releases that published spiking transformers pin, by module contract.

SpikingJelly 0.0.0.0.12 (``spikingjelly.clock_driven.neuron``: ``MultiStepLIFNode``, ``MultiStepParametricLIFNode``,
``MultiStepIFNode``) and 0.0.0.0.14 (``spikingjelly.activation_based.neuron``: ``LIFNode``, ``ParametricLIFNode``,
``IFNode`` in ``step_mode='m'``) cannot be installed beside SpikingJelly 2.x, so snncompile never imports them: a
module is recognised by its class name and module and read through the attributes these releases define
(``tau``, ``decay_input``, ``v_threshold``, ``v_reset``, PLIF's ``w``; ``backend`` is ignored, the simulation does
not depend on it). Their forward, read from the 0.0.0.0.12 and 0.0.0.0.14 sources (``BaseNode.neuronal_charge``,
``neuronal_fire``, ``neuronal_reset``, and 0.0.0.0.14's eval-mode loops), for the supported ``decay_input=True``::

    charge   H = V + (X - (V - Vr)) / tau        (PLIF: * sigmoid(w)); Vr = v_reset, 0 for soft reset
    fire     S = heaviside(H - V_th) = (H >= V_th)
    reset    hard: V = (1 - S) * H + S * Vr      soft: V = H - S * V_th

starting from ``V = Vr`` (0 for soft reset) and stepping along dim 0 of the input. These are the IR LIF forms
``nir``/``nir_k`` with ``v_leak = Vr``, bit for bit, as for SpikingJelly 2.x (``spikingjelly_modules``).
``decay_input=False`` is refused: 0.0.0.0.12 evaluates ``V * (1 - 1/tau) + X`` there, an order no IR form has.

Published code constructs these neurons with ``backend='cupy'``, which both releases refuse at construction when
CuPy is missing (a CPU machine). ``cupy_allowed`` lifts that check while the user's ``build()`` runs: snncompile never
runs a neuron's own backend (the tracer computes neurons with the IR kernels; ``compare_multistep`` runs the model's
neurons with ``backend='torch'``, the same equations).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from torch import nn

from snncompile.errors import UnsupportedError
from snncompile.frontend.spikingjelly_modules import Converter, Shape, SJNeuron, check_values, neuron_node
from snncompile.ir.node import Node

_CUPY_CHECKS = (("spikingjelly.clock_driven.neuron", "check_backend"),  # 0.0.0.0.12 (an assert)
                ("spikingjelly.activation_based.base", "check_backend_library"))  # 0.0.0.0.14 (an ImportError)
_RELEASES = {
    "spikingjelly.clock_driven.neuron": ("0.0.0.0.12", {"MultiStepLIFNode": "lif", "MultiStepParametricLIFNode": "plif",
                                                         "MultiStepIFNode": "if"}),
    "spikingjelly.activation_based.neuron": ("0.0.0.0.14", {"LIFNode": "lif", "ParametricLIFNode": "plif",
                                                             "IFNode": "if"}),
}


def _convert(kind: str, release: str) -> Converter:
    def convert(m: SJNeuron, inp: Shape, out: Shape, path: str) -> Node:
        def refuse(what: str) -> UnsupportedError:
            return UnsupportedError(f"module '{path}' ({type(m).__name__}, SpikingJelly {release}): {what}")

        if getattr(m, "step_mode", "m") != "m":
            raise refuse("is in single-step mode inside a multi-step forward; set step_mode='m'")
        check_values(m, refuse)
        if kind != "if" and not m.decay_input:
            raise refuse("decay_input=False is not supported for this release (it charges V * (1 - 1/tau) + X, a "
                         "float order no IR LIF form reproduces)")
        return neuron_node(m, kind, path)
    return convert


def converter(module: nn.Module) -> Converter | None:
    """The converter of an older SpikingJelly multi-step neuron (exact class, not a subclass), or None."""
    cls = type(module)
    release, kinds = _RELEASES.get(cls.__module__, ("", {}))
    if cls.__name__ not in kinds or (cls.__module__.endswith("activation_based.neuron")
                                     and hasattr(cls, "single_step_functional_forward")):
        return None  # not an old release's class (2.x's activation_based neurons live in spikingjelly_modules)
    return _convert(kinds[cls.__name__], release)


@contextlib.contextmanager
def cupy_allowed() -> Iterator[None]:
    """While a model is built: an already imported old SpikingJelly accepts ``backend='cupy'`` without CuPy."""
    saved = []
    for name, attr in _CUPY_CHECKS:
        module = sys.modules.get(name)
        check = getattr(module, attr, None)
        if check is None:
            continue
        saved.append((module, attr, check))
        setattr(module, attr, lambda backend, _check=check: None if backend == "cupy" else _check(backend))
    try:
        yield
    finally:
        for module, attr, check in saved:
            setattr(module, attr, check)
