"""``snncompile check``: the resource report of a graph on a target's chip, the problems one per line when it does
not fit (exit code 2, one error line, nothing written), hand-derived core counts on Loihi 1 and Loihi 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snncompile.cli.main import main
from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import write_nir
from tests.graphs import chain, lif


def _file(tmp_path, graph: Graph):
    path = tmp_path / "m.nir"
    write_nir(graph, path)
    return path


def wide(tmp_path, neurons: int, inputs: int):
    """Spikes -> Linear (every weight 0.5, so that quantize keeps each one) -> LIF."""
    weight = np.full((neurons, inputs), 0.5)
    return _file(tmp_path, chain(("fc", n.Linear(weight=weight)), ("lif", lif()),
                                 input_type=TensorType((inputs,), Kind.BINARY)))


def run(argv, capsys) -> tuple[int, list[str], list[str]]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def row(lines: list[str], name: str) -> list[str]:
    line = next(line for line in lines if line.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


@pytest.mark.parametrize(("chip", "cores", "bound"), [
    ("loihi1", 3, "neurons_per_core"),  # 1024 neurons per core; 102,400 synapses fit 131,072
    ("loihi2", 2, "synaptic_memory_bits_per_core"),  # 1,572,864 bits / 8 / 100 = 1966 neurons per core
])
def test_a_3000_neuron_layer(tmp_path, capsys, chip, cores, bound):
    code, out, err = run(["check", wide(tmp_path, 3000, 100), "--target", "lava", "--chip", chip], capsys)
    assert code == 0 and err == []
    assert row(out, "lif") == ["lif", "LoihiLIF", "3,000", str(cores), "300,000", "293.0 KiB", bound]
    assert any(f"3,000 neurons on {cores} cores, 1 chip(s) of 128 cores" in line for line in out)
    assert out[-1] == f"fits: lava takes every node and {chip} holds them"


def test_over_a_chip_limit_says_why_and_writes_nothing(tmp_path, capsys):
    nir_file = wide(tmp_path, 4, 5000)
    code, out, err = run(["check", nir_file, "--target", "lava", "--chip", "loihi1"], capsys)
    assert code == 2
    assert out[-2:] == ["does not fit: 1 problem(s):",
                        "  lif: 4 neuron(s) each alone exceed the input axons a core has (one per distinct presynaptic "
                        "neuron): the largest needs 5,000; a loihi1 core has 4,096 (fan_in_axons_per_core); a layer "
                        "is not split finer than one neuron"]
    assert err == [f"snncompile: error: {nir_file} does not fit lava / loihi1: 1 problem(s), listed above"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.nir"]
    code, out, _ = run(["check", nir_file, "--target", "lava", "--chip", "loihi2"], capsys)  # no axon limit known
    assert code == 0 and row(out, "lif")[3] == "1"


def test_ops_a_target_does_not_take_one_line_each(tmp_path, capsys):
    nodes = {"input": n.Input(type=TensorType((4, 3))), "lif": lif(threshold=0.5),
             "mm": n.SpikeMatMul(transpose_b=True), "out_lif": lif(), "output": n.Output()}
    edges = [Edge("input", "lif"), Edge("lif", "mm", "a"), Edge("lif", "mm", "b"), Edge("mm", "out_lif"),
             Edge("out_lif", "output")]
    nir_file = _file(tmp_path, Graph(nodes, edges))
    code, out, err = run(["check", nir_file, "--target", "nir"], capsys)
    assert code == 2 and out == [
        "does not fit: 1 problem(s):",
        "  mm: SpikeMatMul is not accepted by the nir target: such nodes have no NIR equivalent (standard NIR has no "
        "product of two spike tensors)"]
    assert err == [f"snncompile: error: {nir_file} does not fit nir: 1 problem(s), listed above"]
    code, out, _ = run(["check", nir_file, "--target", "cpu"], capsys)
    assert code == 0 and out == ["fits: cpu takes every node"]


def test_json_and_bad_chip(tmp_path, capsys):
    nir_file = wide(tmp_path, 4, 5000)
    code, out, err = run(["check", nir_file, "--target", "lava", "--chip", "loihi1", "--json"], capsys)
    report = json.loads("\n".join(out))
    assert code == 2 and report["fits"] is False and report["chip"] == "loihi1"
    assert report["problems"][0]["node"] == "lif" and report["resources"]["cores"] == 4
    assert report["passes"][-2:] == ["graded-to-binary", "quantize"]  # 8 bits, binary: the pass's defaults
    assert err == [f"snncompile: error: {nir_file} does not fit lava / loihi1: 1 problem(s)"]
    code, _, err = run(["check", nir_file, "--target", "lava", "--chip", "nope"], capsys)
    assert code == 2 and err == ["snncompile: error: chip 'nope': expected the lava target's chips: loihi1, loihi2 "
                                 "or a .toml description"]
