"""``snncompile energy`` as a user meets it: lowering, simulation, reports written atomically and
deterministically, the analytical mode, and one-line errors."""

import json
from pathlib import Path

import pytest

from tests.test_cli import run_bad, run_ok

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("energy") / "spikformer.nir"
    from snncompile.cli.main import main

    assert main(["export", str(EXAMPLES / "spikformer_digits.pt"), "-o", str(out)]) == 0
    return out


def test_report_files_and_same_bytes(model, tmp_path, capsys):
    a, b, md = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "r.md"
    text = run_ok(["energy", model, "--data", "digits", "--limit", "24", "--json", a, "--markdown", md], capsys)
    assert "loihi1" in text and "spikformer" in text
    run_ok(["energy", model, "--data", "digits", "--limit", "24", "--json", b], capsys)
    assert a.read_bytes() == b.read_bytes()
    report = json.loads(a.read_text())
    assert report["schema"] == "snncompile.energy/1" and report["samples"] == 24 and report["steps"] == 4
    assert "ssa-to-binary-matmul" in report["lowering"]  # attention was lowered before counting
    ops = {layer["op"] for layer in report["layers"]}
    assert "SpikeMatMul" in ops and "SpikingSelfAttention" not in ops
    lifs = [layer for layer in report["layers"] if layer["op"] == "LIF"]
    assert lifs and all(layer["firing_rate"] > 0.01 for layer in lifs)
    assert report["totals"]["synops"] > 0 and report["ann_equivalent"]["energy_pj"] > 0
    assert {t["name"] for t in report["targets"]} >= {"generic-45nm", "loihi1", "spinnaker1", "spinnaker2"}
    assert md.read_text().startswith("# Energy report")


def test_integer_input_conventions_differ(model, tmp_path, capsys):
    files = {}
    for mode in ("ac", "mac"):
        files[mode] = tmp_path / f"{mode}.json"
        run_ok(["energy", model, "--data", "digits", "--limit", "8", "--chip", "generic-45nm",
                "--integer-inputs", mode, "--json", files[mode]], capsys)
    ac, mac = (json.loads(files[m].read_text())["targets"][0]["by_kind"] for m in ("ac", "mac"))
    assert ac["mac"] < mac["mac"] and ac["synop"] > mac["synop"]


def test_analytical_mode(capsys):
    out = run_ok(["energy", "--rates", EXAMPLES / "rates" / "spikformer-8-384.json"], capsys)
    assert "7.733 mJ" in out  # 0.9 pJ x 6.82 G + 224^2 x 64 x 27 x 4 x 4.6 pJ: the paper's 7.73 mJ


def test_bad_inputs_give_one_line(model, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert "lower the graph first" in run_bad(["energy", model, "--data", "digits", "--limit", "2", "--no-lower",
                                               "--json", out], capsys)
    assert "nope" in run_bad(["energy", model, "--data", "digits", "--chip", "nope", "--json", out], capsys)
    bad = tmp_path / "rates.json"
    bad.write_text("{}")
    assert "schema" in run_bad(["energy", "--rates", bad], capsys)
    assert "--data" in run_bad(["energy", model], capsys)
    assert not out.exists()
