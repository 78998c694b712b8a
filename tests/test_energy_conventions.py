"""The paper conventions count as their sources do: the papers' FLOPs formula, a binary first layer as SOPs, no
pooling or head; the published Spikformer table with its first-layer term derived from the zoo config; the
event-input export. Expected figures are the papers' formulas worked by hand (the tools' own code: see
test_energy_tools.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snncompile.energy.analytical import estimate, read_rates
from snncompile.energy.conventions import spikformer
from snncompile.energy.count import count
from snncompile.errors import InputFileError
from snncompile.frontend import trace
from snncompile.ir import Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.nn.zoo import CONFIGS
from snncompile.passes.registry import pipeline, run_pipeline
from snncompile.sim import simulate
from snncompile.targets.description import load_description
from tests.graphs import chain, lif
from tests.test_cli import run_ok

RATES = Path(__file__).parent.parent / "examples" / "rates"
EXAMPLES = RATES.parent
REF = load_description("generic-45nm")
E_AC, E_MAC = 0.9, 4.6
T = 4


def _graph(kind: Kind = Kind.REAL):
    """input [1, 8, 8] -> conv0 3x3 p1 (1 -> 4) -> lif0 -> conv1 3x3 p1 (4 -> 4) -> lif1 -> pool (sum 2x2)
    -> lif2 -> flat -> head (64 -> 3)."""
    rng = np.random.default_rng(0)
    return chain(("conv0", n.Conv2d(weight=rng.uniform(0.2, 1.0, (4, 1, 3, 3)), bias=np.zeros(4), padding=(1, 1))),
                 ("lif0", lif(threshold=1.0)),
                 ("conv1", n.Conv2d(weight=rng.uniform(0.0, 0.6, (4, 4, 3, 3)), bias=np.zeros(4), padding=(1, 1))),
                 ("lif1", lif(threshold=1.0)),
                 ("pool", n.SumPool2d(kernel_size=(2, 2), stride=(2, 2))), ("lif2", lif(threshold=0.5)),
                 ("flat", n.Reshape(shape=(64,))), ("head", n.Affine(weight=np.ones((3, 64)), bias=np.zeros(3))),
                 input_type=TensorType((1, 8, 8), kind))


def _rates(tmp_path: Path, rates: dict, steps: int = T, convention: str = "spikformer") -> dict:
    f = tmp_path / "rates.json"
    f.write_text(json.dumps({"schema": "snncompile.rates/1", "convention": convention, "steps": steps,
                             "rates": rates}))
    return read_rates(f)


def test_papers_flops_with_padding_taps_and_no_pooling_or_head(tmp_path):
    """conv1 at 8x8: FLOPs = k^2 h w c_in c_out = 9 x 64 x 4 x 4 per step (its exact fan-out is 16 % lower)."""
    est = estimate(_rates(tmp_path, {"conv1": 0.2}), REF, _graph())
    assert est.layer_sops == {"conv1": pytest.approx(0.2 * T * 9 * 64 * 4 * 4)}
    assert est.first_layer_pj == pytest.approx(E_MAC * T * 9 * 64 * 1 * 4)
    assert est.energy_pj == pytest.approx(est.first_layer_pj + E_AC * est.sops)
    for layer in ("pool", "head", "conv0"):  # not counted (conv0: real input, a MAC term without a rate)
        with pytest.raises(InputFileError, match=f"uses no rate for layer '{layer}'"):
            estimate(_rates(tmp_path, {"conv1": 0.2, layer: 0.5}), REF, _graph())


def test_measured_spikformer_convention_uses_the_papers_flops():
    g = _graph()
    x = np.random.default_rng(1).uniform(0.0, 1.0, (T, 3, 1, 8, 8))
    result = simulate(g, x, trace=["lif0"])
    fr = float(result.traces["lif0"].mean())  # conv1's input rate, from the spikes themselves
    assert 0.05 < fr < 0.95
    est = spikformer(count(g, result.activity), REF)
    assert est.layer_sops == {"conv1": pytest.approx(fr * T * 9 * 64 * 4 * 4)}
    assert est.first_layer_pj == pytest.approx(E_MAC * T * 9 * 64 * 4)


def test_a_binary_first_layer_is_sops_at_its_rate(tmp_path):
    g = _graph(Kind.BINARY)
    per_step = 9 * 64 * 1 * 4
    low = estimate(_rates(tmp_path, {"conv0": 0.1, "conv1": 0.2}), REF, g)
    high = estimate(_rates(tmp_path, {"conv0": 0.3, "conv1": 0.2}), REF, g)
    assert low.first_layer_pj == pytest.approx(E_AC * 0.1 * T * per_step)
    assert high.energy_pj - low.energy_pj == pytest.approx(E_AC * 0.2 * T * per_step)
    with pytest.raises(InputFileError, match="no rate for layer 'conv0'"):
        estimate(_rates(tmp_path, {"conv1": 0.2}), REF, g)


def test_spikformer_2_256_event_input_first_layer():
    """CIFAR10-DVS Spikformer-2-256, binary input, every rate 0.1, T = 16: the first conv (2 -> 32, 3x3, 128x128)
    is 0.9 pJ x 0.1 x 16 x 9 x 128^2 x 2 x 32 = 13.59 uJ, not a MAC term (695 uJ by the papers' formula)."""
    model = CONFIGS["spikformer-2-256"]().eval()
    graph = run_pipeline(trace(model, model.input_shape, input_kind="binary"), pipeline("cpu"))[0]
    first = [k for k, node in graph.nodes.items() if node.events and "input" in graph.sources(k).get("input", ())]
    assert first == ["sps.stages.0.conv"]
    rated = [k for k, node in graph.nodes.items() if isinstance(node, (n.Conv2d, n.Affine, n.Linear, n.SpikeMatMul))
             and k != "head"]
    raw = {"schema": "snncompile.rates/1", "convention": "spikformer", "steps": 16,
           "rates": dict.fromkeys(rated, 0.1)}
    est = estimate(raw, REF, graph)
    assert est.first_layer_pj == pytest.approx(E_AC * 0.1 * 16 * 9 * 128 ** 2 * 2 * 32)
    assert est.metrics["first_layer_macs"] == 0


def test_published_spikformer_table_with_the_first_layer_from_the_zoo_config():
    """Spikformer's ImageNet table = 0.9 pJ x OPs + the first conv of Spikformer-8-512 as MACs, reused for every
    model: 224^2 x 64 x 27 multiply-adds (3x3 x 3 channels) x T = 4 x 4.6 pJ = 1.5954 mJ."""
    model = CONFIGS["spikformer-8-512"]().eval()
    graph = trace(model, model.input_shape)
    derived = 224 ** 2 * 64 * 27 * T * E_MAC
    for name, ops, mj in (("spikformer-8-384", 6.82e9, 7.73), ("spikformer-8-512", 11.09e9, 11.58),
                          ("spikformer-8-768", 22.09e9, 21.48)):
        est = estimate({"schema": "snncompile.rates/1", "convention": "spikformer", "steps": T, "sops": ops},
                       REF, graph)
        assert est.first_layer_pj == pytest.approx(derived)
        assert round(est.energy_pj / 1e9, 2) == mj
        given = read_rates(RATES / f"{name}.json")  # the files' constant is the same derivation
        assert given["sops"] == ops and given["first_layer_pj"] == pytest.approx(derived, rel=1e-9)
    with pytest.raises(InputFileError, match="first-layer term"):
        estimate(read_rates(RATES / "spikformer-8-384.json"), REF, graph)


def test_export_input_kind_binary_counts_an_event_model_first_layer_as_sops(tmp_path, capsys):
    """The digits Spikformer exported with --input-kind binary, fed 0/1 frames: its first conv (1 -> 8, 3x3, 8x8)
    is 0.9 pJ x fr x T x 9 x 64 x 8 with fr the frames' mean; exported as real it is 4.6 pJ x T x 9 x 64 x 8."""
    x = (np.random.default_rng(2).random((6, T, 1, 8, 8)) < 0.3).astype(np.float64)
    data = tmp_path / "events.npz"
    np.savez(data, x=x)
    figures = {}
    for kind in ("binary", "real"):
        nir, out = tmp_path / f"{kind}.nir", tmp_path / f"{kind}.json"
        run_ok(["export", EXAMPLES / "spikformer_digits.pt", "-o", nir, "--input-kind", kind], capsys)
        run_ok(["energy", nir, "--data", data, "--chip", "generic-45nm", "--json", out], capsys)
        report = json.loads(out.read_text())
        assert report["layers"][0]["input_kind"] == kind
        figures[kind] = report["paper"]["spikformer"]
    flops = T * 9 * 64 * 1 * 8
    assert figures["binary"]["first_layer_pj"] == pytest.approx(E_AC * x.mean() * flops)
    assert figures["binary"]["metrics"]["first_layer_macs"] == 0
    assert figures["real"]["first_layer_pj"] == pytest.approx(E_MAC * flops)
