"""``simulate --fixed-point CHIP`` and ``energy --fixed-point CHIP``: the graph lowered by the lava target's pipeline
for that chip, its per-layer report, the 16-bit input check on simulated activity, and bad input as one line."""

import json

import numpy as np
import pytest

from snncompile.cli.main import main
from snncompile.ir import TensorType
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import write_nir
from tests.graphs import chain, lif


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.default_rng(0)
    layers = [("fc0", n.Affine(weight=rng.normal(0.3, 0.5, (10, 12)), bias=np.full(10, 0.1))), ("lif0", lif()),
              ("fc1", n.Affine(weight=rng.normal(0.3, 0.5, (4, 10)), bias=np.zeros(4))), ("lif1", lif())]
    folder = tmp_path_factory.mktemp("fixed")
    write_nir(chain(*layers, input_type=TensorType((12,))), folder / "net.nir")
    np.savez(folder / "real.npz", x=rng.integers(0, 17, (40, 12)) / 16, y=rng.integers(0, 4, 40))
    np.savez(folder / "events.npz", x=(rng.random((40, 6, 12)) < 0.4).astype(np.float32))
    return folder


def run_json(argv, capsys):
    assert main([str(a) for a in argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_loihi2_encodes_the_real_input_and_lowers_every_layer(files, capsys):
    out = run_json(["simulate", files / "net.nir", "--data", files / "real.npz", "-T", "4", "--fixed-point", "loihi2",
                    "--json"], capsys)
    fixed = out["fixed_point"]
    assert fixed["chip"] == "loihi2" and set(fixed["layers"]) == {"lif0", "lif1"}
    assert fixed["layers"]["lif0"]["synapses"]["fc0"]["clipped"] == 0
    assert set(fixed["input_overflow"]) == {"lif0", "lif1"} and all(v == 0 for v in fixed["input_overflow"].values())
    assert out["firing_rates"]["lif0"] > 0.05 and out["firing_rates"]["lif1"] > 0.05


def test_loihi1_keeps_the_real_input_layer_in_float_and_says_so(files, capsys):
    assert main(["simulate", str(files / "net.nir"), "--data", str(files / "real.npz"), "-T", "4",
                 "--fixed-point", "loihi1"]) == 0
    captured = capsys.readouterr()
    assert "fixed-point layers (loihi1)" in captured.out and "accuracy:" in captured.out
    assert ("snncompile: warning: --fixed-point loihi1: 1 layer(s) left in float: lif0: 'fc0' reads the real-valued "
            "graph input") in captured.err


def test_event_data_are_read_as_spikes_on_loihi1(files, capsys):
    out = run_json(["simulate", files / "net.nir", "--data", files / "events.npz", "--fixed-point", "loihi1",
                    "--json"], capsys)
    assert set(out["fixed_point"]["layers"]) == {"lif0", "lif1"}


def test_energy_counts_the_fixed_point_graph(files, tmp_path, capsys):
    report = tmp_path / "energy.json"
    assert main(["energy", str(files / "net.nir"), "--data", str(files / "real.npz"), "-T", "4", "--fixed-point",
                 "loihi2", "--chip", "loihi2", "--json", str(report)]) == 0
    capsys.readouterr()
    ops = {layer["name"]: layer["op"] for layer in json.loads(report.read_text())["layers"]}
    assert ops["fc1"] == "LoihiDense" and ops["lif1"] == "LoihiLIF"


def test_unknown_chip_is_one_line(files, capsys):
    assert main(["simulate", str(files / "net.nir"), "--data", str(files / "real.npz"), "--fixed-point",
                 "loihi3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "loihi3" in err[0] and "loihi1" in err[0] and "Traceback" not in err[0]
