"""Fixed-point simulation (``simulate --fixed-point CHIP``, ``energy --fixed-point CHIP``): a graph lowered by the
lava target's pipeline for a Loihi chip, what the quantize pass reported per layer, and what simulated activity
says about Loihi's 16-bit dendritic input (docs/fixed-point.md).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.errors import SnnError
from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.passes.quantize import Quantize
from snncompile.passes.registry import Step, parse_passes, run_pipeline
from snncompile.sim.activity import Activity

CHIPS = ("loihi1", "loihi2")


def spike_data(x: np.ndarray) -> bool:
    """Whether data are 0/1 events, which the chip reads as binary spikes rather than as encoded payloads."""
    return bool(np.isin(x, (0, 1)).all())


def lower(graph: Graph, chip: str, spike_input: bool = False) -> tuple[Graph, list[Step]]:
    """``graph`` through the lava target's pipeline for ``chip`` (its quantize pass with ``spike_input``)."""
    from snncompile.targets.chips import load_chip
    from snncompile.targets.plugins import load_target

    if chip not in CHIPS:
        raise SnnError(f"--fixed-point {chip}: expected one of {', '.join(CHIPS)}")
    passes = parse_passes(",".join(load_target("lava").pipeline(load_chip(chip, "lava"))))
    passes = [dataclasses.replace(p, spike_input=spike_input) if isinstance(p, Quantize) else p for p in passes]
    return run_pipeline(graph, passes)


def left_in_float(steps: list[Step]) -> str | None:
    """One line naming the layers the quantize pass refused and why (the first few), or None."""
    refused = [r for s in steps for r in s.refusals if r.pass_name == Quantize.name]
    if not refused:
        return None
    more = f"; +{len(refused) - SHOWN} more (snncompile lower --explain)" if len(refused) > SHOWN else ""
    return (f"{len(refused)} layer(s) left in float: "
            + "; ".join(f"{r.node}: {r.reason}" for r in refused[:SHOWN]) + more)


def layer_rows(graph: Graph, activity: Activity) -> list[list[str]]:
    """The quantize pass's report per lowered layer: layer, vth, du, dv, weight exponents, weights clipped, biases
    saturated, where the integer arithmetic is exact (steps; "all", or "no": the rounding deviates), and the
    fraction of neuron-steps whose input left 16 bits in ``activity``."""
    overflow = input_overflow(graph, activity)
    rows = []
    for layer, r in graph.metadata.get("quantize", {}).items():
        synapses = r["synapses"]
        exps = ", ".join(f"{k}: {int(s['weight_exp'])}" for k, s in synapses.items())
        clipped = sum(int(s["clipped"]) for s in synapses.values())
        steps = int(r["exact_steps"])
        exact = "no" if not r["exact"] else "all" if steps < 0 else f"T <= {steps}"
        rows.append([layer, str(int(r["vth"])), str(int(r["du"])), str(int(r["dv"])), exps, str(clipped),
                     str(int(r["bias_saturated"])), exact, f"{overflow[layer]:.4f}"])
    return rows


LAYER_COLUMNS = ["layer", "vth", "du", "dv", "weight_exp", "weights clipped", "biases saturated", "exact",
                 "input > 16 bit"]
SHOWN = 3


def input_overflow(graph: Graph, activity: Activity) -> dict[str, float]:
    """Per LoihiLIF: the fraction of its neuron-steps whose input left [-2**15, 2**15 - 1] (Loihi's 16-bit
    dendritic input; Lava's CPU model takes such inputs unchanged, the chip does not)."""
    out = {}
    for name, node in graph.nodes.items():
        if isinstance(node, n.LoihiLIF):
            over = activity.counts[name]["input_overflow"]
            out[name] = float(over.sum()) / (over[0].size * activity.steps * activity.samples)
    return out
