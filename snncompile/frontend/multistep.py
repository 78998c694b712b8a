"""Multi-step models -> IR, without rewriting them: trace one concrete run, map what ran to the per-step graph.

Published spiking transformers compute on whole sequences: ``forward`` takes ``[T, B, *shape]`` (or a static
``[B, *shape]`` image that it repeats over T itself), folds T into the batch around convolutions
(``x.flatten(0, 1)`` ... ``reshape(T, B, ...)``) and runs multi-step neurons that loop over dim 0.
``trace_multistep`` runs the model once (``snncompile.frontend.record``) on a concrete input and follows every
tensor's time and batch axes by provenance (``snncompile.frontend.axes``); each operation becomes the per-step,
per-sample IR node that computes the same values (``multistep_ops``), each module leaf its converter's node.
Neurons do not run their own code while tracing (so no library backend such as cupy is needed): their outputs
come from the IR kernel of the node they convert to.

* The readout ``x.mean(0)`` over the time axis becomes the graph's output averaged over steps, as the simulator
  reports it; only linear operations may follow it (a head on the mean equals the mean of per-step heads).
* Any other operation over the time axis (indexing a step, a sum over time, a loop over time) or over the batch is
  refused, naming the operation, the module path and the source line.
* A multi-step neuron fed ``[T*B, ...]`` (its state leaks from sample to sample, as in one published model) is
  compiled as the per-sample network, with a warning naming the module.

``compare_multistep`` runs the model's own forward (a float64 copy, neurons reset) and the simulated graph on the
same input and compares every neuron layer spike for spike.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from snncompile.errors import IRError, SnnError, UnsupportedError, one_line
from snncompile.frontend import axes, legacy_neurons, spikingjelly_modules
from snncompile.frontend.axes import BATCH, TIME, Layout
from snncompile.frontend.equivalence import Equivalence, against_simulation
from snncompile.frontend.modules import PASS_THROUGH, STATEFUL, converter_for
from snncompile.frontend.multistep_ops import HANDLERS, TIME_LINEAR
from snncompile.frontend.record import Site, record
from snncompile.frontend.spikingjelly import copy_model, quiet_triton_probe, sequence_containers
from snncompile.ir import Edge, Graph, Kind, TensorType, verify
from snncompile.ir import nodes as n
from snncompile.ir.nodes.structure import summed_type
from snncompile.passes.fold_batchnorm import FoldBatchNorm
from snncompile.sim.kernels import make_kernel

FORMS = ("sequence", "static")
_IDENTITY = PASS_THROUGH + spikingjelly_modules.EVAL_IDENTITY  # in eval mode


@dataclass(frozen=True)
class Value:
    """What a traced tensor is in the graph: the node computing its per-sample tensor, and its layout."""

    name: str
    layout: Layout
    readout: bool = False  # after the mean over time


def neuron_converter(module: nn.Module) -> Any:
    """The converter of a multi-step neuron (SpikingJelly 2.x in step mode 'm', or an older SpikingJelly's by
    its module contract), or None."""
    cls = next((c for c in type(module).__mro__ if c in spikingjelly_modules.MULTI_STEP_NEURONS), None)
    return spikingjelly_modules.MULTI_STEP_NEURONS[cls] if cls else legacy_neurons.converter(module)


def is_multistep(model: nn.Module) -> bool:
    """Whether ``model`` holds a multi-step neuron (SpikingJelly step mode 'm', or an older release's)."""
    return any(neuron_converter(m) is not None and getattr(m, "step_mode", "m") == "m" for m in model.modules())


def _op_name(func: Any) -> str:
    name = getattr(func, "__name__", str(func))
    return getattr(getattr(func, "__self__", None), "__name__", name) if name == "__get__" else name


def _tensors(obj: Any) -> list[torch.Tensor]:
    if torch.is_tensor(obj):
        return [obj]
    if isinstance(obj, list | tuple):
        return [t for x in obj for t in _tensors(x)]
    if isinstance(obj, dict):
        return [t for x in obj.values() for t in _tensors(x)]
    return []


class Builder:
    """Listens to one recorded run (``record.Listener``) and builds the per-step graph."""

    def __init__(self, input_kind: Kind, dt: float):
        self.input_kind, self.dt = input_kind, dt
        self.nodes: dict[str, n.Node] = {}
        self.edges: list[Edge] = []
        self.types: dict[str, TensorType] = {}
        self.layouts: dict[str, Layout] = {}  # neuron node -> layout of its recorded output
        self.output_layouts: list[Layout] = []
        self.readout = False
        self.after_readout: list[str] = []  # nodes computed on the time average (once per sample, not per step)
        self._values: dict[int, Value] = {}
        self._alive: list[torch.Tensor] = []  # keeps ids unique while tracing
        self._used: dict[str, int] = {}

    # -- used by the handlers --------------------------------------------------------------------------------
    def value(self, x: Any) -> Value | None:
        return self._values.get(id(x)) if torch.is_tensor(x) else None

    def bind(self, tensor: torch.Tensor, value: Value) -> None:
        self._values[id(tensor)] = value
        self._alive.append(tensor)

    def derive(self, v: Value, name: str, layout: Layout, readout: bool | None = None) -> Value:
        return Value(name, layout, v.readout if readout is None else readout)

    def refuse(self, op: str, site: Site, what: str) -> UnsupportedError:
        return UnsupportedError(f"operation '{op}' in {site}: {what}")

    def warn(self, site: Site, text: str) -> None:
        warnings.warn(f"{site}: {text}", stacklevel=2)

    def emit(self, op: str, node: n.Node, sources: list[tuple[Value, str]], site: Site, name: str | None = None
             ) -> str:
        """Add ``node`` fed by ``sources`` (value, port); returns its unique name (``name``, or one made from the
        module path and the operation)."""
        flags = {v.readout for v, _ in sources}
        if len(flags) > 1:
            raise self.refuse(op, site, "it combines the readout (mean over time) with per-step values")
        if True in flags and not isinstance(node, TIME_LINEAR):
            raise self.refuse(op, site, "only linear operations may follow the readout (mean over the time axis); "
                                        f"a {node.op} does not commute with it")
        base = name or ".".join(filter(None, (site.module, op.strip("_") or op)))
        count = self._used.get(base, 0)
        self._used[base] = count + 1
        unique = base if count == 0 else f"{base}_{count}"
        ports = {p: summed_type([self.types[v.name] for v, q in sources if q == p], unique, p) for p in node.ports}
        try:
            self.types[unique] = node.output_type(ports, unique)
        except IRError as err:
            raise self.refuse(op, site, err.rule) from None
        self.nodes[unique] = node
        self.edges.extend(Edge(v.name, unique, p) for v, p in sources)
        if True in flags:
            self.after_readout.append(unique)
        return unique

    # -- record.Listener -------------------------------------------------------------------------------------
    def is_leaf(self, module: nn.Module) -> bool:
        if neuron_converter(module) is not None or isinstance(module, _IDENTITY + STATEFUL):
            return True
        return converter_for(module) is not None and not isinstance(module, nn.Flatten)

    def leaf(self, module: nn.Module, path: str, args: tuple, forward: Any, site: Site) -> Any:
        convert = neuron_converter(module)
        if convert is not None:
            return self._neuron(module, path, args, convert, site)
        if isinstance(module, STATEFUL) and not isinstance(module, _IDENTITY):
            raise UnsupportedError(f"module '{path}' ({type(module).__name__}) keeps state between steps but is not "
                                   "a multi-step neuron snncompile knows; supported: SpikingJelly LIFNode, "
                                   "ParametricLIFNode, IFNode (step mode 'm'; also 0.0.0.0.12/14 multi-step nodes)")
        out = forward(*args)
        tracked = [a for a in args if self.value(a) is not None]
        if not tracked:
            return out  # a module applied to constants gives a constant
        if len(args) != 1 or not torch.is_tensor(out):
            raise UnsupportedError(f"module '{path}' ({type(module).__name__}) takes or returns several tensors")
        v = self.value(args[0])
        assert v is not None  # the one argument is the traced one (tracked)
        if isinstance(module, _IDENTITY):
            self.bind(out, v)
            return out
        self.bind(out, self._stateless(module, path, args[0], out, v, site))
        return out

    def function(self, func: Any, args: tuple, kwargs: dict, out: Any, site: Site) -> None:
        if not any(self.value(t) is not None for t in _tensors(args) + _tensors(kwargs)):
            return
        op = _op_name(func)
        handler = HANDLERS.get(op)
        if handler is None:
            if not _tensors(out) and op != "__setitem__":
                return  # shapes, sizes, dims: Python values that only steer the run
            raise self.refuse(op, site, "not supported by the multi-step frontend; supported operations: "
                                        + ", ".join(sorted(HANDLERS)))
        handler(self, op, args, kwargs, out, site)

    # -- modules ---------------------------------------------------------------------------------------------
    def _stateless(self, module: nn.Module, path: str, x: torch.Tensor, out: torch.Tensor, v: Value,
                   site: Site) -> Value:
        def refuse(what: str) -> UnsupportedError:
            return UnsupportedError(f"module '{path}' ({type(module).__name__}) in {site}: {what}")

        if isinstance(module, nn.Linear):
            lead = x.dim() - 1
            if not axes.is_feature_axis(v.layout[-1]):
                raise refuse("its input's last axis holds the time or batch axis")
        else:
            lead = next((i for i, axis in enumerate(v.layout) if not axes.is_batch_axis(axis)), len(v.layout))
            if lead == 0 or not all(axes.is_feature_axis(a) for a in v.layout[lead:]):
                raise refuse(f"expects the time/batch axes first and features after, got a {list(x.shape)} tensor "
                             "whose time/batch axes are elsewhere")
        if tuple(out.shape[:lead]) != tuple(x.shape[:lead]):
            raise refuse("changes the leading (time/batch) axes")
        layout = tuple(v.layout[:lead]) + axes.fresh(tuple(out.shape[lead:]))
        convert = converter_for(module)
        assert convert is not None  # a leaf that is no neuron, identity or stateful module has one (is_leaf)
        node = convert(module, axes.sample_shape(v.layout), axes.sample_shape(layout), path)
        return Value(self.emit(type(module).__name__, node, [(v, "input")], site, name=path), layout, v.readout)

    def _neuron(self, module: nn.Module, path: str, args: tuple, convert: Any, site: Site) -> torch.Tensor:
        x = args[0] if len(args) == 1 else None
        v = self.value(x)
        kind = type(module).__name__
        if v is None:
            raise UnsupportedError(f"module '{path}' ({kind}): a neuron must be fed one traced tensor")
        assert isinstance(x, torch.Tensor)  # value() is None for anything else
        if path in self.layouts:
            raise UnsupportedError(f"module '{path}' ({kind}) is called twice in one forward: its state would carry "
                                   "over from the first call; use one neuron module per layer")
        lead = [a.kind for a in v.layout[0]]
        if lead == [TIME, BATCH]:
            warnings.warn(f"module '{path}' ({kind}) runs on a [T*B, ...] tensor ({site.source}): its state "
                          "leaks from sample to sample; snncompile compiles the per-sample network", stacklevel=2)
        elif lead != [TIME]:
            raise UnsupportedError(f"module '{path}' ({kind}) in {site}: a multi-step neuron steps along dim 0, which "
                                   f"is not the time axis here (dim 0 holds {'x'.join(lead) or 'features'})")
        shape = axes.sample_shape(v.layout)
        node = convert(module, shape, shape, path)
        name = self.emit(kind, node, [(v, "input")], site, name=path)
        self.layouts[name] = v.layout
        kernel = make_kernel(node, self.dt, x.dtype)
        seq, state, outs = axes.to_steps(x, v.layout), None, []
        for x_t in seq:
            y, state = kernel.step({"input": x_t}, state)
            outs.append(y.to(x.dtype))
        out = axes.from_steps(torch.stack(outs), v.layout, tuple(x.shape))
        self.bind(out, Value(name, v.layout, v.readout))
        return out

    # -- graph -----------------------------------------------------------------------------------------------
    def input(self, x: torch.Tensor, form: str) -> None:
        layout = axes.input_layout(tuple(x.shape), form)
        node = n.Input(type=TensorType(axes.sample_shape(layout), self.input_kind))
        self.nodes["input"] = node
        self.types["input"] = node.type
        self._used["input"] = 1
        self.bind(x, Value("input", layout))

    def output(self, out: Any) -> None:
        outs = _tensors(out)
        if not outs:
            raise UnsupportedError("the model's forward returned no tensor")
        for i, t in enumerate(outs):
            v = self.value(t)
            if v is None:
                raise UnsupportedError(f"output {i} of the model does not depend on its input")
            if not (axes.has(v.layout, TIME) or v.readout) or not axes.has(v.layout, BATCH):
                raise UnsupportedError(f"output {i} of the model ({list(t.shape)}) has no time and batch axis")
            self.readout = self.readout or v.readout
            name = "output" if len(outs) == 1 else f"output_{i}"
            self.nodes[name] = n.Output()
            self.edges.append(Edge(v.name, name))
            self.output_layouts.append(v.layout)


def default_steps(model: nn.Module, steps: int | None) -> int:
    """T for tracing: ``steps``, else the model's own ``T`` attribute, else 4."""
    own = getattr(model, "T", None)
    value = steps if steps is not None else own if isinstance(own, int) and not isinstance(own, bool) else 4
    if value < 2:
        raise UnsupportedError(f"T = {value}: tracing a multi-step model needs at least 2 time steps")
    return value


def _prepared(model: nn.Module) -> nn.Module:
    """A float64, eval-mode copy whose SpikingJelly per-step loops (``MultiStepContainer``) run as sequences."""
    clone = copy_model(model).double().eval()
    sequence_containers(clone)
    return clone


def _record(builder: Builder, model: nn.Module, x: torch.Tensor, form: str) -> Builder:
    builder.input(x, form)
    try:
        out = record(_prepared(model), x, builder)
    except SnnError:
        raise
    except Exception as err:  # the user's model code can raise anything
        raise UnsupportedError(f"the model's forward on a {form} input {list(x.shape)} failed: {one_line(err)}"
                               ) from None
    builder.output(out)
    return builder


def _input(shape: tuple[int, ...], form: str, steps: int, batch: int = 2) -> torch.Tensor:
    lead = (steps, batch) if form == "sequence" else (batch,)
    return torch.rand(lead + tuple(shape), dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def record_multistep(model: nn.Module, input_shape: tuple[int, ...], *, steps: int | None = None,
                     input_kind: Kind | str = Kind.REAL, dt: float = 1.0) -> tuple[Builder, str]:
    """The builder of the first input form (sequence ``[T, B, ...]``, then static ``[B, ...]``) the model runs
    on, and that form; if neither runs, the error of the attempt that got further."""
    if dt != 1.0:
        raise UnsupportedError(f"dt = {dt}: SpikingJelly neurons update once per step; trace them with dt = 1")
    steps = default_steps(model, steps)
    failures = []
    for form in FORMS:
        builder = Builder(Kind(input_kind), dt)
        try:
            return _record(builder, model, _input(input_shape, form, steps), form), form
        except UnsupportedError as err:
            failures.append((len(builder.nodes), err))
    raise max(failures, key=lambda f: f[0])[1]


def trace_multistep(model: nn.Module, input_shape: tuple[int, ...], *, steps: int | None = None,
                    input_kind: Kind | str = Kind.REAL, fold_bn: bool = True, dt: float = 1.0,
                    metadata: dict[str, Any] | None = None) -> Graph:
    """Trace a multi-step ``model`` on per-sample inputs of ``input_shape`` (no T or batch axis) into a verified
    per-step IR graph. ``steps``: T for the traced run (default: the model's ``T`` attribute, else 4)."""
    builder, form = record_multistep(model, input_shape, steps=steps, input_kind=input_kind, dt=dt)
    meta = {"steps": default_steps(model, steps), **(metadata or {}), "frontend": "multistep", "input_form": form}
    if builder.after_readout:  # the source model runs them once on the mean over T (energy/sources.py)
        meta["after_readout"] = list(builder.after_readout)
    graph = verify(Graph(builder.nodes, tuple(builder.edges), dt=dt, metadata=meta), stage="trace")
    return FoldBatchNorm().run(graph).graph if fold_bn else graph


def multistep_reference(model: nn.Module, graph: Graph, x: torch.Tensor
                        ) -> tuple[dict[str, np.ndarray], np.ndarray, bool]:
    """The model's own forward on ``x`` (a float64 copy, every neuron reset, a cupy backend run as torch): every
    neuron node's output as ``[T, B, *shape]``, the output, and whether the output is the readout (mean over T)."""
    built = _record(Builder(Kind.REAL, graph.dt), model, x.double(), graph.metadata.get("input_form", "sequence"))
    run = copy_model(model).double().eval()
    record_of: dict[str, np.ndarray] = {}

    def keep(path: str) -> Any:
        def hook(module: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
            record_of[path] = out.detach().numpy().copy()
        return hook

    handles = []
    for path, module in run.named_modules():
        if path in built.layouts:
            if hasattr(module, "reset"):
                module.reset()
            if getattr(module, "backend", "torch") == "cupy" and not torch.cuda.is_available():
                module.backend = "torch"
            handles.append(module.register_forward_hook(keep(path)))
    try:
        with torch.no_grad(), quiet_triton_probe():
            out = run(x.double())
    finally:
        for h in handles:
            h.remove()
    spikes = {p: axes.canonical(v, built.layouts[p]) for p, v in record_of.items() if p in graph.nodes}
    return spikes, axes.canonical(out.detach().numpy(), built.output_layouts[0]), built.readout


def compare_multistep(model: nn.Module, graph: Graph, x: torch.Tensor) -> Equivalence:
    """The model's own forward vs the simulated ``graph`` (float64) on ``x`` (``[T, B, ...]`` for a graph traced
    on sequences, ``[B, ...]`` for a static one, repeated over the graph's T), neuron layer by neuron layer."""
    ref, ref_out, readout = multistep_reference(model, graph, x)
    x_seq = x if graph.metadata.get("input_form", "sequence") == "sequence" else \
        x.unsqueeze(0).expand(int(graph.metadata["steps"]), *x.shape)
    return against_simulation(graph, x_seq.double(), ref, ref_out, readout)
