"""torch model with ``step(x)`` -> IR graph: trace one time step with torch.fx, map every leaf module and operation
to IR nodes.

The model must expose ``step(x)`` (one time step of a ``[B, *input_shape]`` batch, neuron state kept inside the
model) as snncompile.nn models do. The tracer treats the modules of ``frontend.modules`` as leaves, runs the traced
step once on a zero batch to learn every shape, and never changes the model: its training flag and every neuron's
state are put back afterwards. Eval-mode batch norm is folded into the preceding synapses unless ``fold_bn=False``.
``snncompile.frontend.trace`` chooses this tracer for models with ``step``.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from snncompile.errors import UnsupportedError, one_line
from snncompile.frontend.functions import FUNCTIONS, METHODS, Converter, Tensor, supported_functions
from snncompile.frontend.modules import LEAVES, PASS_THROUGH, STATEFUL, converter_for, supported_modules
from snncompile.ir import Edge, Graph, Kind, TensorType, verify
from snncompile.ir import nodes as n
from snncompile.passes.fold_batchnorm import FoldBatchNorm


class _Step(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Any:
        return self.model.step(x)  # type: ignore[operator]  # torch types unknown Module attributes as Tensor | Module


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, LEAVES) or super().is_leaf_module(m, qualname)


class _Recorder(fx.Interpreter):
    """Runs the traced step once and keeps every intermediate value."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, node: fx.Node) -> Any:
        self.values[node] = super().run_node(node)
        return self.values[node]


@contextlib.contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Eval mode and fresh state (``reset()``) in every stateful module while tracing; the model's own training
    flags and the stateful modules' attributes are put back afterwards."""
    modes = {m: m.training for m in model.modules()}
    saved = {m: {k: copy.copy(v) if isinstance(v, dict) else v for k, v in vars(m).items()}
             for m in model.modules() if isinstance(m, STATEFUL)}
    try:
        model.eval()
        for m in saved:
            m.reset()  # type: ignore[operator]  # every STATEFUL module defines reset(); torch's types cannot see it
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode
        for m, attrs in saved.items():
            for k in set(vars(m)) - set(attrs):
                delattr(m, k)
            vars(m).update(attrs)


def _path(node: fx.Node) -> str:
    """A readable, module-qualified name for an fx node."""
    if node.op == "call_module":
        return str(node.target).removeprefix("model.")
    stack = node.meta.get("nn_module_stack") or {}
    scope = str(list(stack)[-1]).removeprefix("model") if stack else ""
    base = node.name.rstrip("0123456789").rstrip("_") or node.name
    return f"{scope.lstrip('.')}.{base}" if scope.strip(".") else base


def trace_step(model: nn.Module, input_shape: tuple[int, ...], *, input_kind: Kind | str = Kind.REAL,
               fold_bn: bool = True, dt: float = 1.0, metadata: dict[str, Any] | None = None) -> Graph:
    """Trace ``model.step`` on per-sample inputs of ``input_shape`` into a verified IR graph."""
    root = _Step(model)
    with untouched(model):
        try:
            gm = fx.GraphModule(root, _Tracer().trace(root))
        except Exception as err:  # fx raises TraceError, TypeError, ... on dynamic control flow
            raise UnsupportedError(f"torch.fx cannot trace {type(model).__name__}.step: {one_line(err)}") from None
        recorder = _Recorder(gm)
        dtype = next(model.parameters(), torch.zeros(())).dtype
        try:
            with torch.no_grad():
                recorder.run(torch.zeros((2,) + tuple(input_shape), dtype=dtype))
        except Exception as err:  # the user's model code can raise anything
            raise UnsupportedError(f"one step of {type(model).__name__} on input shape {list(input_shape)} "
                                   f"failed: {one_line(err)}") from None
    builder = _Builder(gm, recorder.values, Kind(input_kind))
    graph = verify(Graph(builder.nodes, tuple(builder.edges), dt=dt, metadata=metadata or {}), stage="trace")
    return FoldBatchNorm().run(graph).graph if fold_bn else graph


class _Builder:
    def __init__(self, gm: fx.GraphModule, values: dict[fx.Node, Any], input_kind: Kind):
        self.gm, self.values, self.input_kind = gm, values, input_kind
        self.nodes: dict[str, n.Node] = {}
        self.edges: list[Edge] = []
        self.name_of: dict[fx.Node, str] = {}
        self.calls: dict[str, int] = {}
        for node in gm.graph.nodes:
            self._convert(node)

    def _shape(self, node: fx.Node) -> tuple[int, ...]:
        return tuple(self.values[node].shape[1:])

    def _unique(self, name: str) -> str:
        count = self.calls.get(name, 0)
        self.calls[name] = count + 1
        return name if count == 0 else f"{name}_{count}"

    def _arg(self, a: Any) -> Any:
        if isinstance(a, fx.Node):
            value = self.values[a]
            return Tensor(self.name_of[a]) if torch.is_tensor(value) else value
        if isinstance(a, list | tuple):
            return type(a)(self._arg(x) for x in a)
        return a

    def _add(self, fx_node: fx.Node, node: n.Node, sources: list[tuple[str, str]]) -> None:
        name = self._unique(_path(fx_node))
        self.nodes[name] = node
        self.edges.extend(Edge(src, name, port) for src, port in sources)
        self.name_of[fx_node] = name

    def _convert(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            shape = self._shape(node)
            self.nodes["input"] = n.Input(type=TensorType(shape, self.input_kind))
            self.name_of[node] = "input"
        elif node.op == "output":
            outs = node.args[0] if isinstance(node.args[0], tuple | list) else (node.args[0],)
            for i, out in enumerate(outs):
                name = "output" if len(outs) == 1 else f"output_{i}"
                self.nodes[name] = n.Output()
                self.edges.append(Edge(self.name_of[out], name))
        elif node.op == "call_module":
            self._module(node)
        elif node.op in ("call_function", "call_method"):
            self._function(node)
        elif node.op == "get_attr":
            raise UnsupportedError(f"'{node.target}': a parameter or buffer used outside a module is not supported "
                                   "(wrap it in a module such as nn.Linear)")

    def _module(self, node: fx.Node) -> None:
        module = self.gm.get_submodule(str(node.target))
        path = _path(node)
        if isinstance(module, PASS_THROUGH):
            source = node.args[0]
            assert isinstance(source, fx.Node)  # a module in the traced step is applied to a traced value
            self.name_of[node] = self.name_of[source]
            return
        convert = converter_for(module)
        if convert is None:
            raise UnsupportedError(f"module '{path}' ({type(module).__name__}) is not supported; supported modules: "
                                   f"{supported_modules()}")
        if isinstance(module, STATEFUL) and path in self.calls:
            raise UnsupportedError(f"module '{path}' ({type(module).__name__}) is called more than once per step; "
                                   "its state would be shared — use one neuron module per layer")
        args = [self._arg(a) for a in node.args]
        tensors = [a for a in args if isinstance(a, Tensor)]
        source = node.args[0]
        assert isinstance(source, fx.Node)
        ir = convert(module, self._shape(source), self._shape(node), path)
        self._add(node, ir, list(zip(tensors, ir.ports, strict=True)))

    def _function(self, node: fx.Node) -> None:
        if not torch.is_tensor(self.values[node]):
            return  # shape arithmetic (x.shape, x.size(0), ...): a constant, substituted where used
        table: Mapping[Any, Converter] = METHODS if node.op == "call_method" else FUNCTIONS
        key = node.target
        convert = table.get(key)
        label = key if isinstance(key, str) else getattr(key, "__name__", str(key))
        where = f"'{_path(node)}' ({label})"
        if convert is None:
            raise UnsupportedError(f"operation {where} is not supported; supported operations: "
                                   f"{supported_functions()}")
        args = [self._arg(a) for a in node.args]
        kwargs = {k: self._arg(v) for k, v in node.kwargs.items()}
        tensor_args = [a for a in node.args if isinstance(a, fx.Node) and torch.is_tensor(self.values[a])]
        result = convert(where, args, kwargs, [self._shape(a) for a in tensor_args], self._shape(node))
        if result is None:
            self.name_of[node] = self.name_of[tensor_args[0]]
            return
        ir, ports = result
        self._add(node, ir, [(self.name_of[a], p) for a, p in zip(tensor_args, ports, strict=True)])
