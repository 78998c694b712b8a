"""The energy conventions of the spiking-transformer papers and of two tools, as named modes, each counted the
way its source counts (docs/energy.md, "Paper conventions"). snncompile's own exact count (count.py, model.py)
stays the report's measured figure; these reproduce what a paper or a tool would publish for the same activity.

* ``spikformer`` (Spikformer, QKFormer, FWformer): ``E = E_MAC x T x FLOPs_1 + E_AC x sum_l fr_l x T x FLOPs_l``
  with the papers' FLOPs formula (flops.py: ``k^2 x h_out x w_out x c_in x c_out``, padding taps and zero weights
  included), fr_l the rate of the layer's input (non-zero inputs per input position per step; a SpikeMatMul: its
  first operand's). The first layer (every synapse fed by the network input) is a MAC term for a real-valued input
  (an image) and SOPs like any other layer for a binary one (event frames), as FWformer states. Pooling and the
  classifier head (nodes that reach the output without a neuron) are not counted, as in the papers' sums.
* ``spikingresformer``: ``E = E_AC x SOPs`` with SOPs **measured** (events x fan-out, SpikeMatMul coincidences
  included), the first layer and the classifier skipped. Integer (graded) inputs count by the chosen convention:
  as their payload in accumulates (``ac``) or one operation per event (``mac``, at E_MAC).
* ``spikingjelly``: SpikingJelly 2.0's ``op_counter`` (``SynOpCounter`` and ``MACCounter``) on the same model and
  input, node by node (sources.py): ``E = E_AC x SynOps + E_MAC x MACs``.
* ``neurobench``: NeuroBench 2.3's metrics (sources.py): footprint (float32 parameters of the Linear and Conv
  layers), connection sparsity, activation sparsity, effective MACs and ACs, dense operations, membrane updates;
  plus the attention products (SpikeMatMul), which NeuroBench does not see. ``E = E_AC x ACs + E_MAC x MACs``.

``E_AC`` and ``E_MAC`` are the ``synop`` and ``mac`` costs of a description (generic 45 nm by default). Counts
built from a rates file (analytical.py) hold no tool sources: only the two paper conventions apply to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from snncompile.energy.count import Counts, LayerCount
from snncompile.energy.model import operations
from snncompile.targets.description import Description

POOL_OPS = frozenset({"SumPool2d", "AvgPool2d"})
FLOAT32_BYTES = 4


@dataclass
class PaperEstimate:
    convention: str
    energy_pj: float
    first_layer_pj: float
    sops: float
    formula: str
    layer_sops: dict[str, float]
    metrics: dict[str, float] = field(default_factory=dict)  # the source's other figures (per sample)


def _first_real(layer: LayerCount) -> bool:
    return layer.first and layer.input_kind == "real" and bool(layer.values["input_positions"])


def _spikformer_rated(layer: LayerCount) -> bool:
    """Whether the spikformer convention costs ``layer`` as ``fr x T x FLOPs``."""
    if not layer.values["input_positions"] or layer.op in POOL_OPS:
        return False
    return layer.input_kind != "real" if layer.first else not layer.classifier


def _spikingresformer_rated(layer: LayerCount) -> bool:
    return bool(layer.values["input_positions"]) and not (layer.first or layer.classifier)


def spikformer(counts: Counts, desc: Description, integer_inputs: str = "ac") -> PaperEstimate:
    e_ac, e_mac = desc.costs["synop"].pj, desc.costs["mac"].pj
    sops = {layer.name: layer.input_rate * layer.flops for layer in counts.layers if _spikformer_rated(layer)}
    first_macs = sum(layer.flops for layer in counts.layers if _first_real(layer))
    first_sops = sum(sops.get(layer.name, 0.0) for layer in counts.layers if layer.first)
    total = sum(sops.values())
    return PaperEstimate("spikformer", e_mac * first_macs + e_ac * total, e_mac * first_macs + e_ac * first_sops,
                         total, f"{e_mac} pJ x T x FLOPs(first layer, real input) + {e_ac} pJ x sum fr x T x FLOPs "
                         "(papers' FLOPs; a binary first layer as SOPs; pooling and head not counted)", sops,
                         {"first_layer_macs": first_macs, "first_layer_sops": first_sops})


def spikingresformer(counts: Counts, desc: Description, integer_inputs: str = "ac") -> PaperEstimate:
    e_ac, e_mac = desc.costs["synop"].pj, desc.costs["mac"].pj
    sops, macs = {}, 0.0
    for layer in counts.layers:
        if not _spikingresformer_rated(layer):
            continue
        ops = operations(layer.values, integer_inputs)
        sops[layer.name] = ops["synop"]
        macs += ops["mac"]
    total = sum(sops.values())
    return PaperEstimate("spikingresformer", e_ac * total + e_mac * macs, 0.0, total,
                         f"{e_ac} pJ x measured SOPs (first layer and classifier skipped; integer inputs as "
                         f"{integer_inputs})", sops)


def _sum(counts: Counts, key: str) -> float:
    return sum(layer.sources.get(key, 0.0) for layer in counts.layers)


def spikingjelly(counts: Counts, desc: Description, integer_inputs: str = "ac") -> PaperEstimate:
    e_ac, e_mac = desc.costs["synop"].pj, desc.costs["mac"].pj
    batchnorm = counts.sources.get("sj_batchnorm_macs", 0.0)
    synops, macs = _sum(counts, "sj_synops"), _sum(counts, "sj_macs") + batchnorm
    first = sum(e_ac * layer.sources.get("sj_synops", 0.0) + e_mac * layer.sources.get("sj_macs", 0.0)
                for layer in counts.layers if layer.first)
    layer_sops = {layer.name: layer.sources["sj_synops"] for layer in counts.layers if "sj_synops" in layer.sources}
    return PaperEstimate("spikingjelly", e_ac * synops + e_mac * macs, first, synops,
                         f"{e_ac} pJ x SynOps + {e_mac} pJ x MACs (SpikingJelly 2.0 op_counter: SynOps for exactly "
                         "0/1 inputs, MACs for any other; BatchNorm as MACs)", layer_sops,
                         {"synops": synops, "macs": macs, "batchnorm_macs": batchnorm})


def neurobench(counts: Counts, desc: Description, integer_inputs: str = "ac") -> PaperEstimate:
    e_ac, e_mac = desc.costs["synop"].pj, desc.costs["mac"].pj
    acs, macs = _sum(counts, "nb_acs"), _sum(counts, "nb_macs")
    weights, zeros = _sum(counts, "nb_weights"), _sum(counts, "nb_zero_weights")
    spiking = [layer.values for layer in counts.layers if layer.rate_per_step]
    updates = sum(v["neuron_updates"] for v in spiking)
    attention = sum(layer.values["synops"] + layer.values["graded_ops"] + layer.values["macs"]
                    for layer in counts.layers if layer.op == "SpikeMatMul")
    first = sum(e_ac * layer.sources.get("nb_acs", 0.0) + e_mac * layer.sources.get("nb_macs", 0.0)
                for layer in counts.layers if layer.first)
    metrics = {
        "footprint_bytes": FLOAT32_BYTES * _sum(counts, "nb_parameters"),
        "connection_sparsity": zeros / weights if weights else 0.0,
        "activation_sparsity": 1.0 - sum(v["spikes"] for v in spiking) / updates if updates else 0.0,
        "effective_macs": macs,
        "effective_acs": acs,
        "dense": _sum(counts, "nb_dense"),
        "membrane_updates": _sum(counts, "nb_membrane_updates"),
        "attention_ops": attention,
    }
    layer_sops = {layer.name: layer.sources["nb_acs"] for layer in counts.layers if "nb_acs" in layer.sources}
    return PaperEstimate("neurobench", e_ac * acs + e_mac * macs, first, acs,
                         f"{e_ac} pJ x effective ACs + {e_mac} pJ x effective MACs (NeuroBench 2.3 synaptic "
                         "operations of the Linear/Conv layers; attention products not included)", layer_sops,
                         metrics)


Convention = Callable[[Counts, Description, str], PaperEstimate]
CONVENTIONS: dict[str, Convention] = {"spikformer": spikformer, "spikingresformer": spikingresformer,
                                      "spikingjelly": spikingjelly, "neurobench": neurobench}
RATED: dict[str, Callable[[LayerCount], bool]] = {"spikformer": _spikformer_rated,
                                                 "spikingresformer": _spikingresformer_rated}
"""The conventions a rates file may name (the tools' conventions need recorded activity), and for each the layers
whose input rate it uses."""
