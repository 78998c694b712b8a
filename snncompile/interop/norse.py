"""Running an snncompile NIR file in norse (``norse.torch.from_nir``), with the convention shims in one place.

norse 1.1.0 reads a stock ``nir.NIRGraph`` (``nir.read``) but differs from NIR/snncompile in ways a file cannot say:

* **Firing**: norse fires on ``v - v_th > 0`` (NIR's ``>``) and ignores the ``snncompile/fire`` metadata. A LIF
  with ``fire = ">="`` gets ``v_th' = nextafter(float32(v_th), -inf)``: in float32, ``v >= v_th`` iff ``v > v_th'``,
  so the spikes are those of ``>=``.
* **Time step**: ``from_nir`` defaults to ``dt = 1e-3``; the graph's own dt (``snncompile/dt`` metadata) is passed.
  norse computes ``v + dt * (1 / tau) * (x + v_leak - v)``; with dt = 1, tau = 2 (every spiking-transformer LIF)
  ``dt * (1 / tau) = 0.5`` is exact, so this equals NIR's ``v + (v_leak - v + x) * dt / tau`` bit for bit.
* **Ignored parameters**: norse ignores ``r`` and ``v_reset`` (it resets to 0) and starts ``v`` at ``v_leak`` (as
  snncompile does). A LIF with ``r != 1``, ``v_reset != 0`` or ``reset = "subtract"`` is refused, not approximated.
* **Flatten**: norse applies ``torch.nn.Flatten(start_dim, end_dim)`` to the batched tensor, while NIR's dims index
  the per-sample shape; non-negative dims are shifted by one.
* **Padded SumPool2d**: norse (``torch.nn.LPPool2d``) drops the padding. A SumPool2d with padding becomes a Conv2d
  with the same window, stride and padding whose weight is 1 from each channel to itself and 0 elsewhere (not
  grouped: nirtorch builds a grouped Conv2d with the wrong channel counts); on integer inputs the sums are exact.
* **Execution order**: ``from_nir`` builds nirtorch's (deprecated) ``GraphExecutor``, which runs the nodes in
  depth-first preorder from the input; a node run before one of its sources would read that source's output of
  the previous step. The order is checked and such a graph refused (edges are explored in file order, so a graph
  whose branches rejoin in a single node, like a residual sum into one Affine, runs correctly). A source it reads
  from the previous step is right exactly where the edge closes a cycle, as the IR's Previous nodes say.
* **Node types**: norse maps only Input, Output, Affine, Linear, Conv2d, Flatten, SumPool2d, IF, LIF and CubaLIF;
  anything else is refused with the list.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import nir
import numpy as np
import torch

from snncompile.errors import UnsupportedError
from snncompile.ir.recurrence import back_edges

NORSE_TYPES = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Conv2d, nir.Flatten, nir.SumPool2d, nir.IF, nir.LIF,
               nir.CubaLIF)


def _snn_meta(node: nir.NIRNode) -> Mapping[str, object]:
    return (getattr(node, "metadata", None) or {}).get("snncompile", {})


def _shim_lif(name: str, node: nir.LIF) -> None:
    meta = _snn_meta(node)
    if not np.all(node.r == 1) or not np.all(node.v_reset == 0) or meta.get("reset", "hard") != "hard":
        raise UnsupportedError(f"node '{name}': norse ignores r and v_reset and resets to 0; needs r = 1, "
                               "v_reset = 0, hard reset")
    if meta.get("fire", ">") == ">=":
        node.v_threshold = np.nextafter(np.asarray(node.v_threshold, np.float32), np.float32(-np.inf))


def _shim_flatten(node: nir.Flatten) -> None:
    node.start_dim += node.start_dim >= 0
    node.end_dim += node.end_dim >= 0


def _padded_sumpool_as_conv(node: nir.SumPool2d) -> nir.Conv2d:
    channels, *size = (int(d) for d in node.input_type["input"])
    window = np.ones(tuple(int(k) for k in node.kernel_size), np.float32)
    weight = np.einsum("oc,hw->ochw", np.eye(channels, dtype=np.float32), window)
    return nir.Conv2d(input_shape=tuple(size), weight=weight, stride=tuple(int(s) for s in node.stride),
                      padding=tuple(int(p) for p in node.padding), dilation=1, groups=1,
                      bias=np.zeros(channels, np.float32))


def for_norse(graph: nir.NIRGraph) -> nir.NIRGraph:
    """A copy of ``graph`` (as ``nir.read`` returns it) with the shims above applied; raises UnsupportedError for
    what norse would run differently."""
    graph = copy.deepcopy(graph)
    for name, node in graph.nodes.items():
        if not isinstance(node, NORSE_TYPES):
            raise UnsupportedError(f"node '{name}': norse has no {type(node).__name__} "
                                   f"(it maps {', '.join(t.__name__ for t in NORSE_TYPES)})")
        if isinstance(node, nir.LIF):
            _shim_lif(name, node)
        elif isinstance(node, nir.Flatten):
            _shim_flatten(node)
        elif isinstance(node, nir.SumPool2d) and np.any(node.padding != 0):
            graph.nodes[name] = _padded_sumpool_as_conv(node)
    return graph


def _check_order(module: Any, graph: nir.NIRGraph) -> None:
    """Refuse a graph that norse's executor would run in another order than the IR: the sources it reads from the
    previous step must be exactly those of the edges that close a cycle (``snncompile.ir.recurrence``). ``module``:
    the nirtorch GraphExecutor that norse builds (untyped: its ``execution_order`` and ``graph`` are nirtorch's)."""
    names = list(graph.nodes)
    pairs = [(str(a), str(b)) for a, b in graph.edges]
    closing = {pairs[i] for i in back_edges(names, [n for n in names if isinstance(graph.nodes[n], nir.Input)], pairs)}
    sanitized = {n.replace(".", "_"): n for n in names}
    done: set[str] = set()
    for node in module.execution_order:
        late = {src.name for src in module.graph.find_source_nodes_of(node) if src.name not in done}
        expected = {s.replace(".", "_") for s, d in closing if d.replace(".", "_") == node.name}
        if late != expected:
            raise UnsupportedError(f"norse's executor runs '{sanitized.get(node.name, node.name)}' before its "
                                   f"source(s) {', '.join(sorted(late - expected))} (depth-first order): it would "
                                   "read their previous step")
        done.add(node.name)


def _recorder(into: list[torch.Tensor]) -> Callable[[torch.nn.Module, tuple, torch.Tensor | tuple], None]:
    """A forward hook appending a module's output (a neuron's spikes: the first of ``(spikes, state)``) to ``into``."""
    def hook(_module: torch.nn.Module, _inputs: tuple, out: torch.Tensor | tuple) -> None:
        into.append((out[0] if isinstance(out, tuple) else out).detach())
    return hook


def run_norse(graph: nir.NIRGraph, x: np.ndarray, record: tuple[str, ...] = ()) -> tuple[np.ndarray, dict]:
    """Run ``graph`` in norse (float32) on ``x`` ``[T, B, *shape]``, one step at a time with state carried.
    Returns the output ``[T, B, ...]`` and the outputs of the nodes in ``record`` (spikes for neurons), each
    ``[T, B, ...]``."""
    from norse.torch import from_nir  # noqa: PLC0415 - optional dependency, only for this check

    dt = float(graph.metadata.get("snncompile", {}).get("dt", 1e-3))
    module = from_nir(for_norse(graph), dt=dt, ignore_warnings=True)
    _check_order(module, graph)
    submodules = dict(module.named_modules())
    recorded: dict[str, list[torch.Tensor]] = {name: [] for name in record}
    for name in record:  # nirtorch names a node's module after the node, dots replaced by underscores
        submodules[name.replace(".", "_")].register_forward_hook(_recorder(recorded[name]))
    outputs, state = [], None
    with torch.no_grad():
        for step in torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)):
            out, state = module(step, state)
            outputs.append(out)
    return torch.stack(outputs).numpy(), {k: torch.stack(v).numpy() for k, v in recorded.items()}
