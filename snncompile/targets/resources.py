"""A placement as a resource report: a summary line, per-layer rows, and JSON (schema ``snncompile.resources/1``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from snncompile.ir import Graph
from snncompile.targets.chips import RESOURCES
from snncompile.targets.mapping import CORES, Placement

SCHEMA = "snncompile.resources/1"
HEADER = ("layer", "op", "neurons", "cores", "synapses", "memory", "bound")


def memory_text(bits: int | None) -> str:
    """Bits of synaptic memory as KiB or MiB (``-`` when the chip gives no weight bits)."""
    if bits is None:
        return "-"
    kib = bits / 8 / 1024
    if kib >= 1024**2:
        return f"{kib / 1024**2:,.1f} GiB"
    return f"{kib / 1024:,.1f} MiB" if kib >= 1024 else f"{kib:,.1f} KiB"


def summary(placement: Placement) -> str:
    chip = placement.chip
    chips = placement.chips
    per_chip = f"{chips:,} chip(s) of {chip.limit(CORES):,} cores" if chips is not None else "chips not counted"
    return (f"{chip.name}: {len(placement.layers)} layers, {placement.total('neurons'):,} neurons on "
            f"{len(placement.cores):,} cores, {per_chip}; {placement.total('synapses'):,} synapses, synaptic memory "
            f"{memory_text(_memory(placement))}")


def _memory(placement: Placement) -> int | None:
    bits = [layer.memory_bits for layer in placement.layers]
    return None if None in bits else sum(b for b in bits if b is not None)


def layer_rows(placement: Placement) -> list[list[str] | None]:
    """Table rows (HEADER) per layer, then the totals."""
    rows: list[list[str] | None] = [
        [u.name, u.op, f"{u.neurons:,}", f"{u.cores:,}", f"{u.synapses:,}", memory_text(u.memory_bits),
         u.bound or "-"] for u in placement.layers]
    bounds = Counter(u.bound for u in placement.layers if u.bound)
    rows += [None, ["total", "", f"{placement.total('neurons'):,}", f"{len(placement.cores):,}",
                    f"{placement.total('synapses'):,}", memory_text(_memory(placement)),
                    ", ".join(f"{key} x{n}" for key, n in bounds.most_common()) or "-"]]
    return rows


def off_core_text(graph: Graph, placement: Placement) -> str | None:
    """The nodes not placed on neuron cores, by op, or None."""
    if not placement.off_core:
        return None
    ops = Counter(graph.nodes[name].op for name in placement.off_core)
    return ("not on neuron cores (host or custom processes): "
            + ", ".join(f"{op} x{n}" for op, n in sorted(ops.items())))


def placement_json(placement: Placement) -> dict[str, Any]:
    chip = placement.chip
    return {
        "schema": SCHEMA,
        "chip": {"name": chip.name, "title": chip.title, "target": chip.target,
                 "limits": {key: {"value": f.value, "what": RESOURCES[key], "source": f.source}
                            for key, f in chip.resources.items()}},
        "cores": len(placement.cores), "chips": placement.chips, "neurons": placement.total("neurons"),
        "synapses": placement.total("synapses"), "memory_bits": _memory(placement),
        "layers": [vars(u) for u in placement.layers],
        "per_core": [vars(c) for c in placement.cores],
        "off_core": list(placement.off_core),
        "problems": [{"node": p.node, "reason": p.reason} for p in placement.problems],
    }
