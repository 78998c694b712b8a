"""``run_lava``: a fixed-point graph run by Lava's CPU backend, ``Loihi2SimCfg(select_tag='fixed_pt')``.

Each sample runs ``steps + depth`` Lava steps (snncompile_lava.network); what every LIF layer and Output recorded is
returned shifted back by its latency, so ``values[layer][t]`` is comparable with the reference simulator's step t.
On a terminal a progress bar counts the samples.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress

from snncompile.errors import SnnError, one_line
from snncompile.ir import Graph, Kind
from snncompile.ir import nodes as n
from snncompile.sim.kernels import make_kernel

from .layout import from_lava
from .network import LavaNetwork, build_network, check


@dataclasses.dataclass(frozen=True)
class LavaRun:
    """``values``: LIF layer or Output -> ``[T, B, *shape]`` integers, aligned with the reference; ``latency``: node
    -> steps Lava's values lag the reference; ``lava_steps``: Lava steps run in all; ``seconds``: wall time of the
    runs (process start-up included)."""

    values: dict[str, np.ndarray]
    latency: dict[str, int]
    depth: int
    lava_steps: int
    seconds: float


def _arrays(graph: Graph, inputs: np.ndarray | Mapping[str, np.ndarray], steps: int | None
            ) -> tuple[dict[str, np.ndarray], int]:
    if not isinstance(inputs, Mapping):
        if len(graph.inputs) != 1:
            raise SnnError(f"the graph has inputs {graph.inputs}; pass a dict of arrays, one per input")
        inputs = {graph.inputs[0]: inputs}
    missing = [k for k in graph.inputs if k not in inputs]
    if missing:
        raise SnnError(f"no data for graph input(s) {', '.join(missing)}")
    xs = {k: np.asarray(inputs[k]) for k in graph.inputs}
    for k, x in xs.items():
        want = graph.types[k].shape
        if x.ndim != len(want) + 2 or x.shape[2:] != want:
            raise SnnError(f"input '{k}' must be [T, B, {', '.join(map(str, want))}], got {list(x.shape)}")
    lead = {x.shape[:2] for x in xs.values()}
    if len(lead) > 1:
        raise SnnError(f"every input needs the same T and batch size; got {sorted(lead)}")
    total = next(iter(lead))[0]
    steps = total if steps is None else steps
    if not 1 <= steps <= total:
        raise SnnError(f"steps must lie in [1, {total}] (the inputs hold {total} steps), got {steps}")
    return {k: x[:steps] for k, x in xs.items()}, steps


def payloads(graph: Graph, inputs: np.ndarray | Mapping[str, np.ndarray], steps: int | None = None
             ) -> tuple[dict[str, np.ndarray], int]:
    """The integers the Lava sources send: per Input that feeds the chip and per LoihiEncode (computed here, on the
    host, by its simulator kernel), ``[steps, B, *shape]``; and ``steps``. Raises SnnError for non-integer or
    non-binary data where the input's type says integers or spikes."""
    xs, steps = _arrays(graph, inputs, steps)
    out = {}
    for name in graph.order:
        node = graph.nodes[name]
        if isinstance(node, n.LoihiEncode):
            real = torch.as_tensor(xs[graph.sources(name)["input"][0]], dtype=torch.float64)
            step = make_kernel(node, graph.dt, torch.float64).step
            out[name] = np.stack([step({"input": xt}, None)[0].numpy() for xt in real]).astype(np.int64)
        elif isinstance(node, n.Input) and graph.types[name].kind != Kind.REAL:
            x = xs[name]
            if not np.array_equal(x, np.round(x)):
                raise SnnError(f"input '{name}' is {graph.types[name].kind}: its values must be integers")
            if graph.types[name].kind == Kind.BINARY and not np.isin(x, (0, 1)).all():
                raise SnnError(f"input '{name}' is binary: its values must be 0 or 1")
            out[name] = x.astype(np.int64)
    return out, steps


def _reset(net: LavaNetwork, at_least: int) -> None:
    for fill, var in net.resets:
        if fill >= at_least:
            var.set(np.zeros(var.shape))


def _run(net: LavaNetwork, show: bool) -> None:
    from lava.magma.core.run_conditions import RunSteps  # lava only after .network's compatibility fixes
    from lava.magma.core.run_configs import Loihi2SimCfg

    cfg, first = Loihi2SimCfg(select_tag="fixed_pt"), net.processes[0]
    console = Console(stderr=True)
    with Progress(console=console, disable=not (show and console.is_terminal), transient=True) as bar:
        task = bar.add_task("Lava (CPU, fixed_pt)", total=net.batch)
        for b in range(net.batch):
            if b:
                _reset(net, 0)
            for k in range(1, net.fill + 1):
                first.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
                _reset(net, k)
            first.run(condition=RunSteps(num_steps=net.window - net.fill), run_cfg=cfg)
            bar.advance(task)


def run_lava(graph: Graph, inputs: np.ndarray | Mapping[str, np.ndarray], steps: int | None = None, *,
             progress: bool = True) -> LavaRun:
    """Run ``graph`` (fixed-point nodes, snncompile_lava.network.TAKES) on Lava for ``steps`` steps (default: all
    of the inputs, ``[T, B, *shape]`` per Input), samples one after another; ``progress``: a bar on a terminal."""
    check(graph)
    data, steps = payloads(graph, inputs, steps)
    with tempfile.TemporaryDirectory(prefix="snncompile-lava-") as folder:
        net = build_network(graph, data, steps, Path(folder))
        start = time.perf_counter()
        try:
            _run(net, progress)
        except RuntimeError as err:
            raise SnnError(f"Lava's runtime failed: {one_line(err)}") from None
        finally:
            net.processes[0].stop()
        seconds = time.perf_counter() - start
        values = {k: _aligned(net, k, np.load(path), steps) for k, path in net.records.items()}
    return LavaRun(values, dict(net.plan.latency), net.plan.depth, net.window * net.batch, seconds)


def _aligned(net: LavaNetwork, name: str, data: np.ndarray, steps: int) -> np.ndarray:
    """A recording ``(B * window, *lava_shape)`` as ``[steps, B, *shape]``, from the node's latency on."""
    flat = from_lava(data, 1)
    per_sample = flat.reshape(net.batch, net.window, *flat.shape[1:]).swapaxes(0, 1)
    late = net.plan.latency[name]
    return per_sample[late:late + steps].astype(np.int64)
