"""The energy report: counts, energy per target, the ANN equivalent and the paper conventions, as one
JSON-ready dictionary (schema ``snncompile.energy/1``) that every renderer (terminal, Markdown, HTML) reads.

All counts and energies are per sample (one input sequence of T steps); energies in picojoules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snncompile import __version__
from snncompile.energy.conventions import CONVENTIONS
from snncompile.energy.count import Counts, LayerCount
from snncompile.energy.model import energy
from snncompile.targets.description import Description, load_description

SCHEMA = "snncompile.energy/1"
REFERENCE = "generic-45nm"  # the description the ANN equivalent and the paper conventions use


def _layer(layer: LayerCount) -> dict[str, Any]:
    return {"name": layer.name, "op": layer.op, "input_kind": layer.input_kind, "first": layer.first,
            "classifier": layer.classifier, **layer.values, "firing_rate": layer.firing_rate,
            "input_rate": layer.input_rate, "synops_per_step": layer.synops_per_step,
            "rate_per_step": layer.rate_per_step, "live_tokens": layer.live_tokens, "flops": layer.flops,
            "sources": layer.sources}


def _target(counts: Counts, desc: Description, integer_inputs: str) -> dict[str, Any]:
    e = energy(counts, desc, integer_inputs)
    return {"name": e.target, "title": e.title, "total_pj": e.total_pj, "by_kind": e.by_kind,
            "by_layer": e.by_layer, "unpriced": e.unpriced,
            "costs": {k: {"pj": c.pj, "what": c.what, "source": c.source} for k, c in desc.costs.items()}}


def build_report(counts: Counts, targets: Sequence[Description], *, model: str, data: str,
                 accuracy: float | None = None, lowering: Sequence[str] = (), integer_inputs: str = "ac"
                 ) -> dict[str, Any]:
    reference = load_description(REFERENCE)
    totals = counts.totals()
    paper = {name: vars(fn(counts, reference, integer_inputs)) for name, fn in CONVENTIONS.items()}
    return {
        "schema": SCHEMA,
        "snncompile": __version__,
        "model": model,
        "data": data,
        "samples": counts.samples,
        "steps": counts.steps,
        "accuracy": accuracy,
        "lowering": list(lowering),
        "integer_inputs": integer_inputs,
        "units": {"counts": "per sample", "energy": "pJ per sample"},
        "layers": [_layer(layer) for layer in counts.layers],
        "totals": {**totals, "synops_per_step": counts.per_step()},
        "targets": [_target(counts, desc, integer_inputs) for desc in targets],
        "ann_equivalent": {"target": REFERENCE, "macs": totals["dense_macs"],
                           "energy_pj": totals["dense_macs"] * reference.costs["mac"].pj},
        "paper": paper,
    }
