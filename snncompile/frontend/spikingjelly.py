"""SpikingJelly 2.x models -> IR, without rewriting them: trace one step of a single-step copy.

A SpikingJelly model has no ``step``: its ``forward`` takes one step ``[B, ...]`` (step_mode ``'s'``) or a sequence
``[T, B, ...]`` (``'m'``). ``trace_spikingjelly`` deep-copies the model, makes the copy compute one step with the
same code and modules, and traces that copy's ``forward`` as the step with ``snncompile.frontend.fx_trace``:

* the per-step containers (``SeqToANNContainer``, ``MultiStepContainer``, ``StepModeContainer``) become
  ``nn.Sequential`` of the same children (same module names), ``layer.Dropout`` becomes ``nn.Identity`` (eval);
* ``functional.set_step_mode(copy, 's')``; the copy's forward is its step.

The user's model is never touched (its step mode, neuron state and training flag stay as they are). Because the
copy runs one step, dim 0 is the batch: a forward that folds T into the batch or reduces over T itself
(``x.flatten(0, 1)``, ``x.mean(0)``, ``x.unsqueeze(0).repeat(T, ...)``) cannot be traced per step and is refused
naming the operation; such code belongs outside ``forward``. ``trace`` calls this for models without ``step``.

``compare_spikingjelly`` runs SpikingJelly itself (a copy of the model, in its own step mode, reset with
``functional.reset_net``) and the traced graph on the same input and compares every spiking layer spike by spike.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from snncompile.errors import UnsupportedError
from snncompile.frontend.equivalence import Equivalence, against_simulation
from snncompile.frontend.fx_trace import trace_step
from snncompile.frontend.spikingjelly_modules import sj_base, sj_layer
from snncompile.ir import Graph, Kind

if sj_base is not None:  # SpikingJelly 2.x (an older release is handled by legacy_neurons)
    from spikingjelly.activation_based import functional as sj_functional

_PER_STEP = ("snncompile traces one time step of a single-step copy of a SpikingJelly model, where dim 0 is the "
             "batch: code that folds T into the batch or reduces over T (x.flatten(0, 1), x.mean(0), "
             "x.reshape(T * B, ...)) must stay outside forward")


@contextlib.contextmanager
def quiet_triton_probe() -> Iterator[None]:
    """The first call of a SpikingJelly float32 operator makes torch log "Triton not available" (a GPU compiler,
    irrelevant on the CPU); keep that out of the user's output."""
    log = logging.getLogger("torch._library.triton")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def is_spikingjelly(model: nn.Module) -> bool:
    """Whether ``model`` contains SpikingJelly step-mode modules (neurons, layers, containers)."""
    return sj_base is not None and any(isinstance(m, sj_base.StepModule) for m in model.modules())


def _per_step(module: nn.Module, path: str) -> nn.Module | None:
    """The single-step replacement of a per-step container or an eval-mode dropout; None to keep the module.
    A container that feeds all T steps to its modules as one batch must hold no state across steps."""
    if isinstance(module, sj_layer.Dropout):
        return nn.Identity()
    if not isinstance(module, sj_layer.SeqToANNContainer | sj_layer.MultiStepContainer | sj_layer.StepModeContainer):
        return None
    as_batch = isinstance(module, sj_layer.SeqToANNContainer) or not getattr(module, "stateful", True)
    stateful = [m for m in module.modules()
                if isinstance(m, sj_base.MemoryModule) and not isinstance(m, sj_layer.Dropout)]
    if as_batch and stateful:
        raise UnsupportedError(f"module '{path}' ({type(module).__name__}) runs {type(stateful[0]).__name__} on the "
                               "T x B samples of a sequence at once, without state across steps; not supported")
    return nn.Sequential(OrderedDict(module.named_children()))


def _unwrap(module: nn.Module, prefix: str = "") -> None:
    for name, child in list(module.named_children()):
        replacement = _per_step(child, prefix + name)
        if replacement is not None:
            setattr(module, name, replacement)
        _unwrap(replacement if replacement is not None else child, f"{prefix}{name}.")


def copy_model(model: nn.Module) -> nn.Module:
    """``copy.deepcopy(model)``, also when neuron state still holds autograd history (a trace right after a
    training step): such tensors are copied detached."""
    state = [v for m in model.modules() for v in (*vars(m).values(), *getattr(m, "_memories", {}).values())
             if torch.is_tensor(v) and v.grad_fn is not None]
    return copy.deepcopy(model, {id(t): t.detach() for t in state})


def _as_sequence(container: nn.Module) -> None:
    """Make a per-step loop container (``MultiStepContainer``, ``StepModeContainer(stateful=True)``) run on the
    whole sequence: its SpikingJelly children in step mode ``'m'``, the others on ``[T*B, ...]`` (stateless, so
    the same values as one call per step)."""
    children = list(container.children())

    def forward(x_seq: torch.Tensor) -> torch.Tensor:
        for child in children:
            if isinstance(child, sj_base.StepModule):
                sj_functional.set_step_mode(child, "m")
                x_seq = child(x_seq)
            else:
                x_seq = sj_functional.seq_to_ann_forward(x_seq, child)
        return x_seq

    container.forward = forward


def sequence_containers(model: nn.Module) -> None:
    """In place, on a private copy: every per-step loop container of ``model`` runs on whole sequences."""
    if sj_layer is None:
        return
    for module in model.modules():
        loop = isinstance(module, sj_layer.MultiStepContainer) or (
            isinstance(module, sj_layer.StepModeContainer) and getattr(module, "stateful", False))
        if loop:
            _as_sequence(module)


def single_step_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` that computes one time step: containers unwrapped, every module in step mode
    ``'s'``, eval mode, and ``step`` = its ``forward`` (what ``snncompile.frontend.fx_trace`` traces)."""
    if sj_base is None:
        raise UnsupportedError("SpikingJelly is not installed (pip install --no-deps spikingjelly==2.0.0 loguru)")
    clone = copy_model(model)
    _unwrap(clone)
    sj_functional.set_step_mode(clone, "s")
    clone.eval()
    clone.step = clone.forward  # type: ignore[assignment]  # torch types Module.__setattr__ for tensors and modules
    return clone


def trace_spikingjelly(model: nn.Module, input_shape: tuple[int, ...], *, dt: float = 1.0, **options: Any) -> Graph:
    """Trace one step of SpikingJelly ``model`` on per-sample inputs of ``input_shape`` (one step's shape, no T or
    batch axis) into a verified IR graph; ``options`` are those of ``fx_trace.trace_step``. SpikingJelly's
    neurons are discrete-time: their IR equations hold with dt = 1 only."""
    if dt != 1.0:
        raise UnsupportedError(f"dt = {dt}: SpikingJelly neurons update once per step; trace them with dt = 1")
    try:
        with quiet_triton_probe():
            return trace_step(single_step_copy(model), input_shape, **options)
    except UnsupportedError as err:  # an operation on dim 0, or a step that fails on shapes: likely T-handling code
        if "batch axis" not in str(err) and "failed:" not in str(err):
            raise
        raise UnsupportedError(f"{err}; {_PER_STEP}") from None


def _is_multi_step(model: nn.Module) -> bool:
    return any(getattr(m, "step_mode", "s") == "m" for m in model.modules())


def spikingjelly_spikes(model: nn.Module, graph: Graph, x_seq: torch.Tensor
                        ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """SpikingJelly's own run of a copy of ``model`` (cast to ``x_seq``'s dtype, reset with
    ``functional.reset_net``, eval mode) on ``x_seq [T, B, ...]``: the outputs ``[T, B, *shape]`` of every module
    whose graph node is binary, and the model's outputs ``[T, B, ...]``. A multi-step model gets the whole sequence
    in one call, a single-step one a call per step."""
    run = copy_model(model).to(x_seq.dtype).eval()
    sj_functional.reset_net(run)
    names = {m: name for name, m in run.named_modules()
             if name in graph.nodes and graph.types[name].kind == Kind.BINARY}
    record: dict[str, list[np.ndarray]] = {name: [] for name in names.values()}

    def hook(module: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        shape = graph.types[names[module]].shape
        record[names[module]].append(out.detach().numpy().reshape((-1,) + shape))

    handles = [m.register_forward_hook(hook) for m in names]
    try:
        with torch.no_grad(), quiet_triton_probe():
            multi = _is_multi_step(run)
            outputs = run(x_seq).numpy() if multi else np.stack([run(x_t).numpy() for x_t in x_seq])
    finally:
        for h in handles:
            h.remove()
    steps, batch = x_seq.shape[:2]
    return {k: np.concatenate(v).reshape((steps, batch) + graph.types[k].shape) for k, v in record.items()}, outputs


def compare_spikingjelly(model: nn.Module, graph: Graph, x_seq: torch.Tensor) -> Equivalence:
    """SpikingJelly vs the simulated ``graph`` on ``x_seq [T, B, ...]``, both in ``x_seq``'s dtype, layer by layer.
    The model's output must be per step (``[T, B, ...]``, multi-step; or ``[B, ...]`` per call, single-step)."""
    return against_simulation(graph, x_seq, *spikingjelly_spikes(model, graph, x_seq))
