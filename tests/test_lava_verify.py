"""verify: the per-layer table of Lava against the fixed-point simulation (equal on the residual graph, as a table
and as JSON; equal on a float LIF chain lowered by the lava pipeline for Loihi 2), and a mismatch counted and
located by hand."""

import json

import numpy as np
from rich.console import Console
from snncompile_lava.verify import compare, verify

from snncompile import api
from tests import lava_graphs as lg
from tests.graphs import dense_lif


def test_verify_reports_every_layer_equal():
    rng = np.random.default_rng(0)
    graph = lg.residual(rng)
    result = verify(graph, lg.spikes(rng, 10, 2, (8,)), steps=6)
    assert result.ok and (result.steps, result.batch, result.depth) == (6, 2, 3)
    assert [(r.layer, r.neurons, r.latency, r.mismatches) for r in result.rows] == \
        [("l1", 8, 1, 0), ("l2", 8, 2, 0), ("l3", 6, 3, 0), ("out", 6, 3, 0)]
    assert all(r.spikes_lava == r.spikes_sim > 0 for r in result.rows)
    console = Console(width=140, record=True)
    result.show(console)
    text = console.export_text()
    assert "equal, bit for bit" in text and "2 sample(s) x 6 steps; Lava ran 9 steps per sample" in text
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["equal"] is True and doc["pipeline_depth"] == 3 and doc["layers"][2]["layer"] == "l3"


def test_a_mismatch_is_counted_and_its_first_place_named():
    sim = np.zeros((4, 2, 3, 5), np.int64)
    lava = sim.copy()
    lava[2, 1, 1, 3] = 1  # step 2, sample 1, neuron 1 * 5 + 3 = 8
    lava[3, 0, 0, 0] = 1
    row = compare("conv", 1, lava, sim)
    assert (row.neurons, row.spikes_lava, row.spikes_sim, row.mismatches) == (15, 2, 0, 2)
    assert row.first_mismatch == (2, 1, 8)
    assert row.cells()[-1] == "t=2 sample=1 neuron=8"


def test_a_float_network_lowered_for_loihi2_verifies():
    rng = np.random.default_rng(0)
    lowered = api.lower(dense_lif(rng, (10, 8, 4)), "lava", "loihi2").graph
    assert {node.op for node in lowered.nodes.values()} == {"Input", "LoihiEncode", "LoihiDense", "LoihiLIF",
                                                            "Output"}
    result = verify(lowered, rng.uniform(0, 2, (8, 2, 10)))
    assert result.ok and all(r.spikes_sim > 0 for r in result.rows)
