"""Energy under target descriptions, the paper conventions, the analytical mode and description files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snncompile.energy.analytical import estimate, read_rates
from snncompile.energy.conventions import spikformer, spikingresformer
from snncompile.energy.count import count
from snncompile.energy.model import energy
from snncompile.errors import InputFileError
from snncompile.ir import Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.sim import simulate
from snncompile.targets.description import bundled, load_description
from tests.graphs import chain, lif

RATES = Path(__file__).parent.parent / "examples" / "rates"
REF = load_description("generic-45nm")


def _graph():
    """real input -> fc0 (first layer) -> lif0 -> fc1 (binary) -> lif1 -> fc2 (classifier)."""
    return chain(("fc0", n.Affine(weight=np.full((4, 3), 0.7), bias=np.zeros(4))), ("lif0", lif(threshold=0.5)),
                 ("fc1", n.Affine(weight=np.eye(4) * 2.0, bias=np.zeros(4))), ("lif1", lif(threshold=0.5)),
                 ("fc2", n.Linear(weight=np.ones((2, 4)))), input_type=TensorType((3,), Kind.REAL))


@pytest.fixture(scope="module")
def counts():
    x = np.random.default_rng(0).uniform(0.0, 1.0, (4, 3, 3))
    c = count(_graph(), simulate(_graph(), x).activity)
    layers = {layer.name: layer for layer in c.layers}
    assert layers["lif0"].firing_rate > 0.1 and layers["lif1"].firing_rate > 0.1
    return c


def test_energy_is_operations_times_costs(counts):
    t = counts.totals()
    e = energy(counts, load_description("loihi1"))
    inactive = t["neuron_updates"] - t["active_updates"]
    want = 23.6 * t["synops"] + 81.0 * t["active_updates"] + 52.0 * inactive + 1.7 * t["spikes"]
    assert e.total_pj == pytest.approx(want)
    assert e.unpriced == {"mac": t["macs"]}  # Loihi has no MAC: reported, not priced at zero
    assert sum(e.by_layer.values()) == pytest.approx(e.total_pj)
    ref = energy(counts, REF)
    assert ref.total_pj == pytest.approx(0.9 * t["synops"] + 4.6 * t["macs"])
    assert set(ref.unpriced) == {"neuron_update", "spike"}


def test_paper_conventions_by_hand(counts):
    layers = {layer.name: layer for layer in counts.layers}
    fc1 = layers["fc1"].values
    est = spikformer(counts, REF)
    fr1 = fc1["input_events"] / fc1["input_positions"]
    assert est.first_layer_pj == pytest.approx(4.6 * 12 * 4)  # 12 multiply-adds per step, T = 4
    # the papers' FLOPs of fc1: i x o = 16 (its 12 zero weights included, the exact count has 4); fc2, the head,
    # is not counted
    assert est.sops == pytest.approx(fr1 * 16 * 4) and set(est.layer_sops) == {"fc1"}
    res = spikingresformer(counts, REF)
    assert res.layer_sops == {"fc1": fc1["synops"]}  # first layer and classifier skipped
    assert res.energy_pj == pytest.approx(0.9 * fc1["synops"])


@pytest.mark.parametrize(("name", "mj"), [("spikformer-8-384", 7.73), ("spikformer-8-512", 11.58),
                                          ("spikformer-8-768", 21.48), ("spikingresformer-ti", 2.46),
                                          ("spikingresformer-m", 5.46)])
def test_analytical_mode_reproduces_published_tables(name, mj):
    est = estimate(read_rates(RATES / f"{name}.json"), REF)
    assert round(est.energy_pj / 1e9, 2) == mj


def test_analytical_per_layer_rates_use_the_graphs_flops(tmp_path):
    f = tmp_path / "rates.json"
    f.write_text('{"schema": "snncompile.rates/1", "convention": "spikformer", "steps": 4, "rates": {"fc1": 0.25}}')
    est = estimate(read_rates(f), REF, _graph())
    assert est.sops == pytest.approx(0.25 * 4 * 16)  # fr x T x (i x o): the papers' FLOPs of fc1's 4x4 weight
    assert est.energy_pj == pytest.approx(4.6 * 12 * 4 + 0.9 * est.sops)
    f.write_text('{"schema": "snncompile.rates/1", "convention": "spikingresformer", "steps": 4, "rates": {}}')
    with pytest.raises(InputFileError, match="no rate for layer 'fc1'"):
        estimate(read_rates(f), REF, _graph())


def test_bundled_descriptions_name_a_source_for_every_cost():
    assert {"generic-45nm", "loihi1", "loihi2", "spinnaker1", "spinnaker2"} <= set(bundled())
    for name in bundled():
        desc = load_description(name)
        assert desc.costs and all(c.source and c.pj >= 0 for c in desc.costs.values())
    assert "secondary" in load_description("spinnaker2").costs["synop"].source


def test_user_description_and_its_errors(tmp_path, counts):
    f = tmp_path / "chip.toml"
    f.write_text('name = "chip"\n[costs.synop]\npj = 2.0\nsource = "datasheet"\n')
    assert energy(counts, load_description(str(f))).total_pj == pytest.approx(2.0 * counts.total("synops"))
    f.write_text('name = "chip"\n[costs.synapse]\npj = 2.0\nsource = "x"\n')
    with pytest.raises(InputFileError, match="unknown operation kind 'synapse'"):
        load_description(str(f))
    f.write_text('name = "chip"\n[costs.synop]\npj = 2.0\n')
    with pytest.raises(InputFileError, match="needs source"):
        load_description(str(f))
