"""The energy conventions of the spiking-transformer papers, as named modes (MODELS.md, "Energy conventions").

* ``spikformer`` (Spikformer, QKFormer, FWformer): ``E = E_MAC x FLOPs(first layer) + E_AC x sum_l SOPs_l`` with
  ``SOPs_l = fr_l x T x FLOPs_l``: FLOPs_l are the layer's dense multiply-adds per step, fr_l the firing rate of its
  input (non-zero inputs per input position per step). The first layer is every synapse fed by the network input.
  SpikeMatMul products count with the rate of their first operand.
* ``spikingresformer``: ``E = E_AC x SOPs`` with SOPs **measured** (events x fan-out, SpikeMatMul coincidences
  included), the first layer and the classifier skipped. Integer (graded) inputs count by the chosen convention:
  as their payload in accumulates (``ac``) or one operation per event (``mac``, at E_MAC).

``E_AC`` and ``E_MAC`` are the ``synop`` and ``mac`` costs of a description (generic 45 nm by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from snncompile.energy.count import Counts
from snncompile.energy.model import operations
from snncompile.targets.description import Description


@dataclass
class PaperEstimate:
    convention: str
    energy_pj: float
    first_layer_pj: float
    sops: float
    formula: str
    layer_sops: dict[str, float]


def spikformer(counts: Counts, desc: Description, integer_inputs: str = "ac") -> PaperEstimate:
    e_ac, e_mac = desc.costs["synop"].pj, desc.costs["mac"].pj
    first = sum(layer.values["dense_macs"] for layer in counts.layers if layer.first)
    sops = {layer.name: layer.input_rate * layer.values["dense_macs"] for layer in counts.layers
            if layer.values["input_positions"] and not layer.first}
    total = sum(sops.values())
    return PaperEstimate("spikformer", e_mac * first + e_ac * total, e_mac * first, total,
                         f"{e_mac} pJ x FLOPs(first layer) + {e_ac} pJ x sum fr x T x FLOPs", sops)


def spikingresformer(counts: Counts, desc: Description, integer_inputs: str = "ac") -> PaperEstimate:
    e_ac, e_mac = desc.costs["synop"].pj, desc.costs["mac"].pj
    sops, macs = {}, 0.0
    for layer in counts.layers:
        if layer.first or layer.classifier or not layer.values["input_positions"]:
            continue
        ops = operations(layer.values, integer_inputs)
        sops[layer.name] = ops["synop"]
        macs += ops["mac"]
    total = sum(sops.values())
    return PaperEstimate("spikingresformer", e_ac * total + e_mac * macs, 0.0, total,
                         f"{e_ac} pJ x measured SOPs (first layer and classifier skipped; integer inputs as "
                         f"{integer_inputs})", sops)


CONVENTIONS: dict[str, Callable[[Counts, Description, str], PaperEstimate]] = {
    "spikformer": spikformer, "spikingresformer": spikingresformer}
