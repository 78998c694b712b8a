"""Energy of counted activity under a hardware description: operations of each kind x that kind's cost.

Integer (graded) inputs, e.g. spike-count residuals, are costed by one of two conventions, always labelled:
``"ac"`` -- a count k is k accumulates (what a binary core does with k spikes; graded-to-binary builds exactly
that), ``"mac"`` -- one multiply-accumulate per event and target.
"""

from __future__ import annotations

from dataclasses import dataclass

from snncompile.energy.count import Counts
from snncompile.errors import UnsupportedError
from snncompile.targets.description import Description

INTEGER_INPUTS = ("ac", "mac")
_FAMILIES = {"synop": {"synop"}, "mac": {"mac"}, "spike": {"spike"},
             "neuron_update": {"neuron_update", "neuron_update_active", "neuron_update_inactive"}}


@dataclass
class TargetEnergy:
    target: str
    title: str
    total_pj: float
    by_kind: dict[str, float]  # kind -> pJ per sample
    by_layer: dict[str, float]  # layer -> pJ per sample
    unpriced: dict[str, float]  # kind -> operations per sample that the description does not price


def operations(values: dict[str, float], integer_inputs: str) -> dict[str, float]:
    """Operations of each description kind for one layer's (or the total's) counts."""
    if integer_inputs not in INTEGER_INPUTS:
        raise UnsupportedError(f"integer inputs '{integer_inputs}': supported: {', '.join(INTEGER_INPUTS)}")
    as_ac = integer_inputs == "ac"
    updates, active = values["neuron_updates"], values["active_updates"]
    return {
        "synop": values["synops"] + (values["graded_payload"] if as_ac else 0.0),
        "mac": values["macs"] + (0.0 if as_ac else values["graded_ops"]),
        "neuron_update": updates,
        "neuron_update_active": active,
        "neuron_update_inactive": updates - active,
        "spike": values["spikes"],
    }


def _priced(desc: Description) -> set[str]:
    """The kinds that are priced: active/inactive updates replace the plain update when a description has them."""
    kinds = set(desc.costs)
    if {"neuron_update_active", "neuron_update_inactive"} <= kinds:
        kinds.discard("neuron_update")
    return kinds


def energy(counts: Counts, desc: Description, integer_inputs: str = "ac") -> TargetEnergy:
    priced = _priced(desc)
    by_kind: dict[str, float] = dict.fromkeys(sorted(priced), 0.0)
    by_layer: dict[str, float] = {}
    unpriced: dict[str, float] = {}
    for layer in counts.layers:
        ops = operations(layer.values, integer_inputs)
        by_layer[layer.name] = sum(ops[k] * desc.costs[k].pj for k in priced)
        for kind in priced:
            by_kind[kind] += ops[kind] * desc.costs[kind].pj
    totals = operations(counts.totals(), integer_inputs)
    for kind, family in _FAMILIES.items():
        if totals[kind] and not priced & family:
            unpriced[kind] = totals[kind]
    return TargetEnergy(desc.name, desc.title, sum(by_kind.values()), by_kind, by_layer, unpriced)
