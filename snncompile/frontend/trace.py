"""torch model -> IR graph: the frontend's entry point, which picks the tracer by what the model is.

* a model with ``step(x)`` (snncompile.nn models, ``snncompile.nn.StepModel``): one step traced with torch.fx
  (``snncompile.frontend.fx_trace``);
* a model with multi-step neurons: its forward traced by execution (``snncompile.frontend.multistep``);
* a per-step SpikingJelly model: a single-step copy traced with torch.fx (``snncompile.frontend.spikingjelly``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from snncompile.errors import UnsupportedError
from snncompile.frontend import multistep, spikingjelly
from snncompile.frontend.fx_trace import trace_step
from snncompile.ir import Graph, Kind


def trace(model: nn.Module, input_shape: tuple[int, ...], *, input_kind: Kind | str = Kind.REAL,
          fold_bn: bool = True, dt: float = 1.0, metadata: dict[str, Any] | None = None,
          steps: int | None = None) -> Graph:
    """Trace one step of ``model`` on per-sample inputs of ``input_shape`` into a verified IR graph. A model
    without ``step``: with multi-step neurons, its forward is traced by execution (``multistep``, ``steps`` = T of
    that run); a per-step SpikingJelly model is traced on a single-step copy (``spikingjelly``)."""
    if callable(getattr(model, "step", None)):
        return trace_step(model, input_shape, input_kind=input_kind, fold_bn=fold_bn, dt=dt, metadata=metadata)
    if multistep.is_multistep(model):
        return multistep.trace_multistep(model, input_shape, steps=steps, input_kind=input_kind, fold_bn=fold_bn,
                                         dt=dt, metadata=metadata)
    if spikingjelly.is_spikingjelly(model):
        return spikingjelly.trace_spikingjelly(model, input_shape, input_kind=input_kind, fold_bn=fold_bn, dt=dt,
                                               metadata=metadata)
    raise UnsupportedError(f"{type(model).__name__} has no step(x) method and no multi-step neuron snncompile "
                           "knows: snncompile traces one time step (see snncompile.nn.StepModel) or a multi-step "
                           "forward (docs/spikingjelly.md)")
