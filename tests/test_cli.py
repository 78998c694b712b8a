"""The snncompile command as a user meets it: export -> inspect -> simulate, --json, --help, and every bad input
giving one line on stderr, exit code 2, no traceback and no output file."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snncompile.cli.main import main
from snncompile.nn.zoo import CONFIGS

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = CONFIGS["spikformer-digits"]()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save({"config": "spikformer-digits", "T": 4, "state_dict": model.state_dict()}, path)
    return path


def run_ok(argv, capsys) -> str:
    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


def run_bad(argv, capsys) -> str:
    assert main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("snncompile: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_export_inspect_simulate(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.nir"
    assert "wrote" in run_ok(["export", checkpoint, "-o", out], capsys)
    table = run_ok(["inspect", out], capsys)
    assert "sps.stages.0.conv" in table and "LIF" in table and "total" in table
    info = json.loads(run_ok(["inspect", out, "--json"], capsys))
    assert info["dt"] == 1.0 and info["metadata"]["steps"] == 4
    assert info["totals"]["neurons"] > 0 and info["totals"]["synapses"] > info["totals"]["params"]
    sim = json.loads(run_ok(["simulate", out, "--data", "digits", "--limit", "40", "--json"], capsys))
    assert sim["samples"] == 40 and sim["steps"] == 4 and 0 <= sim["accuracy"] <= 1
    assert set(sim["firing_rates"]) == {k for k in info_nodes(info) if k.endswith("lif")}
    assert "accuracy:" in run_ok(["simulate", out, "--data", "digits", "--limit", "20", "-T", "2"], capsys)


def info_nodes(info):
    return [n["name"] for n in info["nodes"] if n["op"] == "LIF"]


def test_same_input_same_bytes(checkpoint, tmp_path, capsys):
    a, b = tmp_path / "a.nir", tmp_path / "b.nir"
    run_ok(["export", checkpoint, "-o", a], capsys)
    run_ok(["export", checkpoint, "-o", b], capsys)
    assert a.read_bytes() == b.read_bytes()


def test_foreign_nir_needs_dt(capsys, tmp_path):
    assert "dt" in run_bad(["inspect", DATA / "cnn_sinabs.nir"], capsys)
    assert "Conv2d" in run_ok(["inspect", DATA / "cnn_sinabs.nir", "--dt", "1"], capsys)
    x = torch.rand(3, 2, 34, 34).numpy()
    np.savez(tmp_path / "ev.npz", x=x, y=np.array([0, 1, 2]))
    assert "accuracy" in run_ok(["simulate", DATA / "cnn_sinabs.nir", "--dt", "1", "--data", tmp_path / "ev.npz",
                                 "-T", "3"], capsys)


def test_missing_files(tmp_path, capsys):
    out = tmp_path / "m.nir"
    assert "no such file" in run_bad(["export", tmp_path / "nope.pt", "-o", out], capsys)
    assert "no such file" in run_bad(["inspect", tmp_path / "nope.nir"], capsys)
    assert not out.exists()


def test_corrupt_nir(tmp_path, capsys):
    bad = tmp_path / "cut.nir"
    bad.write_bytes((DATA / "cnn_sinabs.nir").read_bytes()[:1000])
    assert "cut.nir" in run_bad(["inspect", bad, "--dt", "1"], capsys)
    text = tmp_path / "text.nir"
    text.write_text("hello")
    assert "text.nir" in run_bad(["simulate", text, "--dt", "1", "--data", "digits", "-T", "1"], capsys)


def test_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "m.nir"
    assert "not a readable PyTorch checkpoint" in run_bad(["export", bad, "-o", out], capsys)
    assert not out.exists()


def test_unsupported_module(tmp_path, capsys):
    model_file = tmp_path / "gelu_model.py"
    model_file.write_text(
        "from torch import nn\n"
        "from snncompile.nn.layers import StepModel\n"
        "from snncompile.nn.lif import LIF\n"
        "class Net(StepModel):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.input_shape = (4,)\n"
        "        self.fc = nn.Linear(4, 3)\n"
        "        self.act = nn.GELU()\n"
        "        self.lif = LIF()\n"
        "    def step(self, x):\n"
        "        return self.lif(self.act(self.fc(x)))\n"
        "def build():\n"
        "    return Net()\n")
    ckpt = tmp_path / "gelu.pt"
    torch.save({"fc.weight": torch.ones(3, 4), "fc.bias": torch.zeros(3)}, ckpt)
    out = tmp_path / "m.nir"
    line = run_bad(["export", ckpt, "--model", f"{model_file}:build", "-o", out], capsys)
    assert "'act' (GELU) is not supported" in line and "supported modules" in line
    assert not out.exists()


def test_nan_weights(checkpoint, tmp_path, capsys):
    data = torch.load(checkpoint, weights_only=True)
    data["state_dict"]["sps.stages.1.conv.weight"][0, 0, 0, 0] = float("nan")
    bad = tmp_path / "nan.pt"
    torch.save(data, bad)
    out = tmp_path / "m.nir"
    line = run_bad(["export", bad, "-o", out], capsys)
    assert "sps.stages.1.conv" in line and "NaN" in line
    assert not out.exists()


def test_state_dict_mismatch_and_unknown_config(checkpoint, tmp_path, capsys):
    data = torch.load(checkpoint, weights_only=True)
    del data["state_dict"]["head.weight"]
    data["state_dict"]["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "keys.pt"
    torch.save(data, bad)
    line = run_bad(["export", bad, "-o", tmp_path / "m.nir"], capsys)
    assert "missing keys: head.weight" in line and "unexpected keys: extra.weight" in line
    assert "known configs" in run_bad(["export", checkpoint, "--config", "nope", "-o", tmp_path / "m.nir"], capsys)


def test_unwritable_output(checkpoint, tmp_path, capsys):
    assert "cannot write" in run_bad(["export", checkpoint, "-o", tmp_path / "no" / "dir" / "m.nir"], capsys)


def test_bad_data_shape(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.nir"
    run_ok(["export", checkpoint, "-o", out], capsys)
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 3, 8, 8)), y=np.zeros(2))
    assert "takes samples [N, 1, 8, 8] (static)" in run_bad(["simulate", out, "--data", tmp_path / "d.npz"], capsys)
    assert "expected one of digits" in run_bad(["simulate", out, "--data", "mnist"], capsys)


def test_real_process_exit_code_and_help(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snncompile", "inspect", str(tmp_path / "x.nir")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    for cmd in ("export", "inspect", "simulate"):
        proc = subprocess.run([sys.executable, "-m", "snncompile", cmd, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "usage: snncompile " + cmd in proc.stdout
