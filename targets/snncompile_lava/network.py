"""A lava-nc process network from a fixed-point graph (docs/lava.md, "The network").

One Lava process per computing node: ``LoihiDense`` -> ``Dense``, ``LoihiConv2d`` -> ``Conv``, ``LoihiLIF`` ->
``LIF`` (their bit-accurate ``fixed_pt`` models), each graph input -> a ``RingBuffer`` source holding every sample's
steps (binary or graded payloads; a ``LoihiEncode`` on an input is computed on the host and its integers are the
payloads). Flatten and Reshape become Lava virtual ports (snncompile_lava.layout), Previous nodes disappear into the
latency plan (snncompile.ir.latency): the synapse on a recurrent loop is Lava recurrence, other delays are
``DelayLine`` processes. Several edges into one port are several connections into one Lava InPort, which sums them.
A ``Recorder`` (a memory-mapped ``.npy`` file per node, in a folder the caller gives) records every LIF layer and
every Output.

Samples run one after another in windows of ``steps + depth`` Lava steps; between samples, and during the pipeline
fill of each, the state of every process is reset as ``Balance.fill`` says (``LavaNetwork.resets``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from snncompile.errors import UnsupportedError
from snncompile.ir import Graph, Kind
from snncompile.ir import nodes as n
from snncompile.ir.latency import Balance, balance, port_feeds

from . import compat
from .layout import conv_weight, lava_shape, reshaped, to_lava, xy

compat.install()

from lava.proc.conv.process import Conv  # noqa: E402 - after the compatibility fixes
from lava.proc.dense.process import Dense  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402
from lava.proc.lif.process import LIF  # noqa: E402

from .processes.delay import DelayLine  # noqa: E402
from .processes.record import Recorder  # noqa: E402

TAKES = (n.Input, n.Output, n.LoihiDense, n.LoihiConv2d, n.LoihiLIF, n.LoihiEncode, n.Flatten, n.Reshape, n.Previous)
"""The node kinds a Lava network is built from (what the quantize pass produces)."""


@dataclasses.dataclass
class LavaNetwork:
    """The built network. ``resets``: (steps, Var) pairs: the Var is set to zero between samples and after each of
    the first ``steps`` steps of a sample (pipeline fill); ``window``: Lava steps per sample; ``records``: node ->
    its recording, ``(batch * window, *lava_shape)`` int32, filled as the network runs."""

    graph: Graph
    plan: Balance
    window: int
    batch: int
    processes: list[Any]
    records: dict[str, Path]
    resets: list[tuple[int, Any]]

    @property
    def fill(self) -> int:
        return max((k for k, _ in self.resets), default=0)


def _refuse(name: str, why: str) -> UnsupportedError:
    return UnsupportedError(f"node '{name}': {why} (the Lava network takes "
                            f"{', '.join(cls.__name__ for cls in TAKES)}; run the lava pipeline first)")


def check(graph: Graph) -> None:
    """Raise UnsupportedError (one line, the node and why) for what a Lava network cannot hold."""
    parts = list(nx.weakly_connected_components(graph.nx))
    if len(parts) > 1:
        firsts = ", ".join(sorted(min(p) for p in parts))
        raise UnsupportedError(f"the graph has {len(parts)} unconnected parts (containing {firsts}); Lava runs one "
                               "connected network at a time")
    for name, node in graph.nodes.items():
        if not isinstance(node, TAKES):
            raise _refuse(name, f"{node.op} has no Lava process here")
    for name, node in graph.nodes.items():
        kind = graph.types[name].kind
        if isinstance(node, n.Input) and kind == Kind.REAL and any(
                not isinstance(graph.nodes[c], n.LoihiEncode) for c in graph.consumers(name)):
            raise _refuse(name, "a real-valued input reaches the chip only through LoihiEncode")
        if isinstance(node, n.LoihiEncode) and any(
                not isinstance(graph.nodes[s], n.Input) for s in graph.sources(name)["input"]):
            raise _refuse(name, "LoihiEncode runs on the host, so it must read a graph Input")
        if isinstance(node, n.LoihiDense) and len(graph.port_types(name)["input"].shape) != 1:
            raise _refuse(name, f"Lava's Dense takes a vector, got {graph.port_types(name)['input']}")


class _Builder:
    def __init__(self, graph: Graph, plan: Balance, data: dict[str, np.ndarray], rows: int):
        self.graph, self.plan, self.rows = graph, plan, rows  # rows: Lava steps in all
        self.feeds = port_feeds(graph, plan)
        self.procs: dict[str, Any] = {}
        self.resets: list[tuple[int, Any]] = []
        self.delays: dict[tuple[str, int, int], Any] = {}
        for name in graph.order:
            node = graph.nodes[name]
            if name in data:
                self.procs[name] = Source(data=np.moveaxis(to_lava(data[name], 1), 0, -1).astype(np.int32))
            elif isinstance(node, n.LoihiDense | n.LoihiConv2d | n.LoihiLIF):
                self.procs[name] = self._process(name, node)

    def _process(self, name: str, node: Any) -> Any:
        fill = self.plan.fill[name]
        if isinstance(node, n.LoihiDense):
            proc = Dense(weights=node.weight.astype(np.int32), weight_exp=int(node.weight_exp), num_weight_bits=8,
                         num_message_bits=int(node.message_bits), name=name)
            self.resets.append((fill, proc.a_buff))
        elif isinstance(node, n.LoihiConv2d):
            proc = Conv(weight=conv_weight(node.weight), input_shape=lava_shape(self.graph.port_types(name)["input"]
                                                                                .shape),
                        padding=xy(node.padding), stride=xy(node.stride), dilation=xy(node.dilation),
                        groups=int(node.groups), num_message_bits=int(node.message_bits), name=name)
            self.resets.append((fill, proc.a_buf))
        else:
            shape = self.graph.types[name].shape
            bias = [to_lava(np.broadcast_to(getattr(node, f), shape)).astype(np.int32)
                    for f in ("bias_mant", "bias_exp")]
            proc = LIF(shape=lava_shape(shape), du=int(node.du), dv=int(node.dv), vth=int(node.vth),
                       bias_mant=bias[0], bias_exp=bias[1], name=name)
            self.resets += [(fill, proc.u), (fill, proc.v)]
        return proc

    def out_ports(self, name: str) -> list[Any]:
        """The Lava ports that carry node ``name``'s value (several for a reshaped sum)."""
        node = self.graph.nodes[name]
        if name in self.procs:
            proc = self.procs[name]
            return [proc.s_out if isinstance(proc, Source | LIF) else proc.a_out]
        if isinstance(node, n.Flatten | n.Reshape):
            before, after = self.graph.port_types(name)["input"].shape, self.graph.types[name].shape
            return [reshaped(p, before, after) for p in self.into(name, "input")]
        raise _refuse(name, f"{node.op} computes nothing that Lava can carry here")

    def into(self, name: str, port: str) -> list[Any]:
        """The (delayed) Lava ports summed into ``port`` of node ``name``."""
        ports = []
        for src, delay in self.feeds[name].get(port, []):
            for i, p in enumerate(self.out_ports(src)):
                ports.append(p if delay == 0 else self._delayed(p, src, i, delay))
        return ports

    def _delayed(self, port: Any, src: str, index: int, delay: int) -> Any:
        key = (src, index, delay)
        if key not in self.delays:
            line = DelayLine(shape=tuple(port.shape), delay=delay, name=f"{src}.delay{delay}")
            port.connect(line.s_in)
            self.resets.append((self.plan.latency[src], line.buffer))
            self.delays[key] = line
        return self.delays[key].s_out

    def connect(self, folder: Path) -> tuple[dict[str, Path], list[Any]]:
        for name, proc in self.procs.items():
            if isinstance(proc, Dense | Conv | LIF):
                for p in self.into(name, "input"):
                    p.connect(proc.s_in if isinstance(proc, Dense | Conv) else proc.a_in)
        records, recorders = {}, []
        for i, (name, node) in enumerate(self.graph.nodes.items()):
            if isinstance(node, n.LoihiLIF | n.Output):
                ports = self.out_ports(name) if isinstance(node, n.LoihiLIF) else self.into(name, "input")
                shape = tuple(ports[0].shape)
                records[name] = folder / f"{i}.npy"
                np.lib.format.open_memmap(records[name], mode="w+", dtype=np.int32, shape=(self.rows, *shape))
                recorders.append(Recorder(shape=shape, path=str(records[name]), name=f"{name}.record"))
                for p in ports:
                    p.connect(recorders[-1].a_in)
        return records, recorders


def build_network(graph: Graph, data: dict[str, np.ndarray], steps: int, folder: Path) -> LavaNetwork:
    """The Lava network of ``graph`` fed ``data``: node -> integer payloads ``[steps, B, *shape]`` for every Input
    that feeds the chip and every LoihiEncode (already encoded); its recordings go to files in ``folder``."""
    check(graph)
    plan = balance(graph)
    batch = next(iter(data.values())).shape[1]
    window = steps + plan.depth
    padded = {k: np.concatenate([v, np.zeros((window - steps, *v.shape[1:]), v.dtype)]) for k, v in data.items()}
    sample_major = {k: v.swapaxes(0, 1).reshape(window * batch, *v.shape[2:]) for k, v in padded.items()}
    builder = _Builder(graph, plan, sample_major, window * batch)
    records, recorders = builder.connect(folder)
    processes = [*builder.procs.values(), *builder.delays.values(), *recorders]
    return LavaNetwork(graph, plan, window, batch, processes, records, builder.resets)
