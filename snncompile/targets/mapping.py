"""Core mapping: every layer's neurons onto the cores of a chip description, within its resource limits.

Each layer (``snncompile.targets.connectivity``) is cut, in its neurons' flat order, into contiguous slices, one
per core, each as long as the limits allow (greedy, which gives the fewest contiguous slices): at most
``neurons_per_core`` neurons, ``synaptic_memory_bits_per_core`` bits of synapses (``weight_bits`` per non-zero
synapse its neurons receive), ``fan_in_axons_per_core`` distinct presynaptic neurons, ``fan_out_axons_per_core``
output axons (one per neuron of the core and destination core it sends to). A limit the chip leaves out is not
checked. Fan-out depends on how the destination layers are cut, so layers are cut from the last to the first and the
whole is repeated until nothing changes (a feed-forward graph needs one round; recurrence may need more). Cores are
numbered in layer order and filled onto chips of ``cores_per_chip``.

A core's ``closed_by`` is the limit the next neuron would break; a layer's **bound** is the limit that closed most of
its cores (none: it fits on one core). A neuron that alone exceeds a limit is a problem (a layer is not split finer
than one neuron); it gets a core of its own so that the counts stay whole.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from snncompile.errors import UnsupportedError
from snncompile.ir import Graph
from snncompile.targets.chips import RESOURCES, Chip
from snncompile.targets.connectivity import Layer, layers
from snncompile.targets.target import Problem

NEURONS, MEMORY, FAN_IN, FAN_OUT, CORES = RESOURCES  # the resource keys, in their documented order
ROUNDS = 16  # rounds of cutting before fan-out that has not settled is reported
BLOCK_SYNAPSES = 1 << 16  # synapses enumerated at once while a core grows


@dataclass(frozen=True)
class Core:
    layer: str
    start: int  # the layer's neurons [start, stop), flat order
    stop: int
    synapses: int
    fan_in: int | None  # None: not counted (the chip has no fan-in or fan-out limit)
    fan_out: int | None
    closed_by: str | None  # the limit the next neuron would break; None: the layer ended first


@dataclass(frozen=True)
class LayerUse:
    name: str
    op: str
    neurons: int
    cores: int
    synapses: int
    memory_bits: int | None  # None: the chip gives no weight bits
    bound: str | None


@dataclass(frozen=True)
class Placement:
    chip: Chip
    layers: tuple[LayerUse, ...]
    cores: tuple[Core, ...]
    off_core: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def chips(self) -> int | None:
        per_chip = self.chip.limit(CORES)
        return None if per_chip is None else math.ceil(len(self.cores) / per_chip)

    def total(self, field: str) -> int:
        return sum(getattr(layer, field) for layer in self.layers)


def synapse_bits(chip: Chip) -> int | None:
    """Bits of synaptic memory one synapse occupies: the chip's weight bits (None if it gives none)."""
    figure = chip.precision.get("weight_bits")
    if figure is None and chip.limit(MEMORY) is not None:
        raise UnsupportedError(f"{chip.where}: {MEMORY} needs [precision.weight_bits] (what a synapse occupies)")
    return None if figure is None else int(figure.value)


class _Connections:
    """A layer's synapses per neuron, and its presynaptic neurons (global ids) with the neuron each synapse is of."""

    def __init__(self, layer: Layer, offsets: dict[str, int]):
        self.layer, self.offsets = layer, offsets
        self.synapses = np.zeros(layer.size, dtype=np.int64)
        for term in layer.terms:
            used = term.out_index >= 0
            self.synapses[used] += term.kernel.fan_in()[term.out_index[used]]
        self.cumulative = np.concatenate([[0], np.cumsum(self.synapses)])
        self.block = max(1, BLOCK_SYNAPSES * layer.size // max(1, int(self.cumulative[-1])))

    def presynaptic(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Global ids of the presynaptic neurons of every synapse of neurons [start, stop), and each one's neuron
        (counted from ``start``)."""
        ids, owners = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for term in self.layer.terms:
            outputs = term.out_index[start:stop]
            neuron = np.nonzero(outputs >= 0)[0]
            inputs, owner = term.kernel.inputs(outputs[neuron])
            for source, index in term.sources:
                elements = index[inputs]
                found = elements >= 0
                ids.append(self.offsets[source] + elements[found])
                owners.append(neuron[owner[found]])
        return np.concatenate(ids), np.concatenate(owners)


def _furthest(cumulative: np.ndarray, start: int, budget: int) -> int:
    """The largest stop with ``cumulative[stop] - cumulative[start] <= budget``."""
    return int(np.searchsorted(cumulative, cumulative[start] + budget, side="right")) - 1


class _Axons:
    """Grows a core over presynaptic ids: counts the distinct ones and, per presynaptic neuron, the cores reached."""

    def __init__(self, ids: int):
        self.seen = np.full(ids, -1, dtype=np.int64)
        self.reached = np.zeros(ids, dtype=np.int64)
        self.core = 0

    def grow(self, conn: _Connections, start: int, stop: int, limit: int | None) -> tuple[int, int]:
        """(the core's stop, its fan-in): neurons from ``start`` up to ``stop`` while the fan-in stays within
        ``limit``; at least one neuron."""
        self.core += 1
        count, pos = 0, start
        while pos < stop:
            end = min(pos + conn.block, stop)
            ids, owner = conn.presynaptic(pos, end)
            new = self.seen[ids] != self.core
            ids, owner = ids[new], owner[new]
            order = np.argsort(owner, kind="stable")
            ids, owner = ids[order], owner[order]
            fresh, first = np.unique(ids, return_index=True)
            per_neuron = np.cumsum(np.bincount(owner[first], minlength=end - pos)) + count
            fits = end - pos if limit is None else int(np.searchsorted(per_neuron, limit, side="right"))
            fits = max(fits, 1 if pos == start else 0)
            kept = fresh[owner[first] < fits]
            self.seen[kept] = self.core
            self.reached[kept] += 1
            if fits == 0:
                return pos, count
            count = int(per_neuron[fits - 1])
            if fits < end - pos:
                return pos + fits, count
            pos = end
        return stop, count


def _cut(conn: _Connections, fan_out: np.ndarray, chip: Chip, axons: _Axons | None) -> list[Core]:
    """The cores of one layer."""
    neurons, memory, out_axons = chip.limit(NEURONS), chip.limit(MEMORY), chip.limit(FAN_OUT)
    bits = synapse_bits(chip) or 1  # without weight bits there is no memory limit either
    out_cumulative = np.concatenate([[0], np.cumsum(fan_out)])
    cores, start, size = [], 0, conn.layer.size
    while start < size:
        ends = {}
        if neurons is not None:
            ends[NEURONS] = start + neurons
        if memory is not None:
            ends[MEMORY] = _furthest(conn.cumulative, start, memory // bits)
        if out_axons is not None:
            ends[FAN_OUT] = _furthest(out_cumulative, start, out_axons)
        stop = max(min([size, *ends.values()]), start + 1)
        fan_in = None
        if axons is not None:
            grown, fan_in = axons.grow(conn, start, stop, chip.limit(FAN_IN))
            stop, ends = (grown, {FAN_IN: grown}) if grown < stop else (stop, ends)
        closed_by = None if stop == size else next(key for key, end in ends.items() if end <= stop)
        out = None if axons is None else int(fan_out[start:stop].sum())
        cores.append(Core(conn.layer.name, start, stop, int(conn.cumulative[stop] - conn.cumulative[start]), fan_in,
                          out, closed_by))
        start = stop
    return cores


def _too_big(layer: str, cores: list[Core], chip: Chip) -> list[Problem]:
    """What single neurons of ``layer`` exceed alone: one problem per limit, with how many and the largest need."""
    bits = synapse_bits(chip)
    problems = []
    for key, need in ((MEMORY, lambda c: c.synapses * bits if bits else None), (FAN_IN, lambda c: c.fan_in),
                      (FAN_OUT, lambda c: c.fan_out)):
        limit = chip.limit(key)
        over = [n for c in cores if c.stop == c.start + 1 and (n := need(c)) is not None and limit is not None
                and n > limit]
        if over:
            problems.append(Problem(layer, f"{len(over)} neuron(s) each alone exceed the {RESOURCES[key]}: the "
                                    f"largest needs {max(over):,}; a {chip.name} core has {limit:,} ({key}); a layer "
                                    "is not split finer than one neuron"))
    return problems


def place(graph: Graph, chip: Chip) -> Placement:
    """Map every layer of ``graph`` onto cores of ``chip`` (the module docstring says how)."""
    found, off_core = layers(graph)
    sources = {src for layer in found for term in layer.terms for src, _ in term.sources}
    sizes = {name: int(np.prod(graph.types[name].shape)) for name in graph.nodes if name in sources}
    offsets = dict(zip(sizes, np.concatenate([[0], np.cumsum(list(sizes.values()))]).tolist(), strict=False))
    conns = [_Connections(layer, offsets) for layer in found]
    counted = chip.limit(FAN_IN) is not None or chip.limit(FAN_OUT) is not None
    total = sum(sizes.values())

    def own(conn: _Connections, values: np.ndarray) -> np.ndarray:
        if conn.layer.name not in offsets:  # nothing reads this layer
            return np.zeros(conn.layer.size, dtype=np.int64)
        return values[offsets[conn.layer.name]:offsets[conn.layer.name] + conn.layer.size]

    problems, previous = [], np.zeros(total, dtype=np.int64)
    for _ in range(ROUNDS):
        axons = _Axons(total) if counted else None
        cuts: dict[str, list[Core]] = {}
        for conn in reversed(conns):  # destinations first: a layer's fan-out is known when it is cut
            reached = own(conn, axons.reached) if axons is not None else own(conn, previous)
            cuts[conn.layer.name] = _cut(conn, np.maximum(reached, own(conn, previous)), chip, axons)
        if axons is None or not graph.previous or np.array_equal(axons.reached, previous):  # feed-forward: at once
            break
        previous = axons.reached
    else:
        problems.append(Problem(None, f"the fan-out axons did not settle in {ROUNDS} rounds of cutting layers"))
    cores, uses = [], []
    bits = synapse_bits(chip)
    for conn in conns:
        cut = cuts[conn.layer.name]
        cores += cut
        problems += _too_big(conn.layer.name, cut, chip)
        closed = Counter(c.closed_by for c in cut if c.closed_by is not None)
        synapses = int(conn.cumulative[-1])
        uses.append(LayerUse(conn.layer.name, conn.layer.op, conn.layer.size, len(cut), synapses,
                             None if bits is None else synapses * bits,
                             closed.most_common(1)[0][0] if closed else None))
    return Placement(chip, tuple(uses), tuple(cores), tuple(off_core), tuple(problems))
