"""Targets as plugins: found through the entry-point group (an editable and a wheel install alike), imported
without their vendor SDK, one interface (explicit allow-lists, per-chip pipelines, emit), chip descriptions as data
with a source for every figure, ``snncompile targets`` and the Python API."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import snncompile
from snncompile.cli.main import main
from snncompile.errors import InputFileError, UnsupportedError
from snncompile.ir import Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import read_nir, write_nir
from snncompile.ir.node import Node, single
from snncompile.sim import simulate
from snncompile.targets.chips import RESOURCES, chip_names, load_chip
from snncompile.targets.plugins import load_target, target_names
from snncompile.targets.target import Target
from tests import lava_graphs
from tests.graphs import chain, lif

ROOT = Path(__file__).resolve().parent.parent


def binary_chain(rng: np.random.Generator):
    """Spikes -> Linear -> LIF -> Linear -> LIF: every node of it is one the lava pipeline lowers."""
    return chain(("fc1", n.Linear(weight=rng.normal(0.5, 0.2, (6, 8)))), ("lif1", lif()),
                 ("fc2", n.Linear(weight=rng.normal(0.5, 0.2, (3, 6)))), ("lif2", lif()),
                 input_type=TensorType((8,), Kind.BINARY))


def test_the_entry_point_group_lists_every_target_and_its_chips():
    assert target_names() == ["cpu", "lava", "nir"]
    targets = {name: load_target(name) for name in target_names()}
    assert all(isinstance(t, Target) and t.name == name for name, t in targets.items())
    assert {name: t.chips() for name, t in targets.items()} == {"cpu": ["generic-45nm"], "lava": ["loihi1", "loihi2"],
                                                                "nir": []}
    assert chip_names() == ["generic-45nm", "loihi1", "loihi2", "spinnaker1", "spinnaker2"]
    assert targets["lava"].chip(None).name == "loihi2" and targets["nir"].chip(None) is None


def test_listing_and_checking_never_import_lava():
    code = ("import sys, numpy as np\nimport snncompile\nfrom snncompile.ir import Kind, TensorType, nodes as n\n"
            "from tests.graphs import chain, lif\nsnncompile.list_targets()\n"
            "graph = chain(('fc', n.Linear(weight=np.ones((3, 4)))), ('lif', lif()), "
            "input_type=TensorType((4,), Kind.BINARY))\n"
            "assert not snncompile.check(graph, 'lava', 'loihi1').problems\n"
            "print(sorted(m for m in sys.modules if m == 'lava' or m.startswith('lava.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_wheel_install_finds_the_plugins_and_their_chips(tmp_path):
    """Build a wheel from a copy of the sources, install it into a folder, and list targets and chips from there."""
    src = tmp_path / "src"
    for part in ("snncompile", "targets"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", src)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", src], check=True)
    (wheel,) = (tmp_path / "dist").glob("snncompile-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"snncompile_cpu/__init__.py", "snncompile_nir/__init__.py", "snncompile_lava/__init__.py",
            "snncompile_cpu/chips/generic-45nm.toml", "snncompile_lava/chips/loihi1.toml",
            "snncompile_lava/chips/loihi2.toml", "snncompile/targets/descriptions/spinnaker1.toml"} <= names
    subprocess.run([*pip, "install", "--no-deps", "--target", tmp_path / "site", wheel], check=True)
    code = ("import json, snncompile, snncompile_lava\nfrom snncompile.targets.chips import chip_files\n"
            "print(json.dumps([snncompile.__file__, snncompile_lava.__file__, "
            "[i.name for i in snncompile.list_targets()], {k: str(v[1]) for k, v in chip_files().items()}]))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True)
    core, plugin, targets, chips = json.loads(out.stdout)
    site = str(tmp_path / "site")
    assert core.startswith(site) and plugin.startswith(site) and targets == ["cpu", "lava", "nir"]
    assert sorted(chips) == chip_names() and all(path.startswith(site) for path in chips.values())


def test_loihi_descriptions_hold_the_published_figures_with_sources():
    """Davies et al., IEEE Micro 2018: Loihi 1 per core 1024 compartments, 128 KB synaptic memory, 4096 fan-in and
    4096 fan-out axons, 128 cores per chip. Intel's Loihi 2 brief (2021): 1 M neurons over 128 cores (8192 per
    core), 192 KB per core, graded spikes up to 32 bits (docs/targets.md, "Chips")."""
    loihi1, loihi2 = load_chip("loihi1"), load_chip("loihi2")
    assert {k: f.value for k, f in loihi1.resources.items()} == dict(zip(RESOURCES, [1024, 128 * 1024 * 8, 4096, 4096,
                                                                                      128], strict=True))
    assert {k: f.value for k, f in loihi2.resources.items()} == {"neurons_per_core": 8192, "cores_per_chip": 128,
                                                                  "synaptic_memory_bits_per_core": 192 * 1024 * 8}
    assert (loihi1.precision["graded_spikes"].value, loihi2.precision["graded_spikes"].value) == (False, True)
    assert loihi2.precision["payload_bits"].value == 32 and loihi1.energy.costs["synop"].pj == 23.6
    for chip in (loihi1, loihi2, load_chip("generic-45nm")):
        figures = [*chip.resources.values(), *chip.precision.values(), *(chip.energy.costs.values())]
        assert all(f.source.strip() for f in figures)


def test_chips_of_another_target_and_bad_files_are_one_line(tmp_path):
    with pytest.raises(UnsupportedError, match=r"^chip 'loihi1' belongs to the lava target, not cpu \(the cpu "):
        load_chip("loihi1", "cpu")
    with pytest.raises(UnsupportedError, match="chip 'spinnaker1' is an energy-only description"):
        load_target("lava").chip("spinnaker1")
    with pytest.raises(UnsupportedError, match="--chip loihi1: the nir target has no chips"):
        load_target("nir").chip("loihi1")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[resources.neurons]\nvalue = 4\nsource = "s"\n')
    with pytest.raises(InputFileError, match=r"unknown \[resources.neurons\]; supported: neurons_per_core, "):
        load_chip(str(bad))
    bad.write_text('name = "x"\n[resources.neurons_per_core]\nvalue = 4\n')
    with pytest.raises(InputFileError, match="needs source = where the figure comes from"):
        load_chip(str(bad))


def test_pipelines_follow_the_chip_precision(tmp_path):
    lava, cpu = load_target("lava"), load_target("cpu")
    loihi1, loihi2 = lava.pipeline(load_chip("loihi1")), lava.pipeline(load_chip("loihi2"))
    assert loihi1 == cpu.pipeline(None) + ("graded-to-binary", "quantize{weight_bits=8,graded=false}")
    assert loihi2 == cpu.pipeline(None) + ("quantize{weight_bits=8,graded=true}",)
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\ntarget = "lava"\n[precision.weight_bits]\nvalue = 6\nsource = "s"\n')
    assert lava.pipeline(lava.chip(str(mine)))[-2:] == ("graded-to-binary", "quantize{weight_bits=6,graded=false}")


@dataclass(frozen=True, eq=False, kw_only=True)
class Frobnicate(Node):
    """A new extension node that no target has added to its allow-list."""

    op = "Frobnicate"

    def output_type(self, inputs, name):
        return single(inputs)


def test_a_new_extension_node_is_refused_until_a_target_adds_it(tmp_path):
    graph = chain(("fc", n.Linear(weight=np.ones((3, 4)))), ("frob", Frobnicate()), ("lif", lif()),
                  input_type=TensorType((4,)))
    for name in target_names():
        assert "Frobnicate x1 (frob)" in load_target(name).refusal(graph)
    with pytest.raises(UnsupportedError, match=r"^the cpu pipeline leaves 1 node\(s\) that the cpu target does not "
                       r"run: Frobnicate x1 \(frob\)"):
        snncompile.compile(graph, "cpu", out=tmp_path / "m.nir")
    assert list(tmp_path.iterdir()) == []


def test_python_api_compiles_and_checks(tmp_path):
    graph = binary_chain(np.random.default_rng(1))
    result = snncompile.compile(graph, "cpu", out=tmp_path / "m.nir")
    assert result.files == (tmp_path / "m.nir",) and read_nir(tmp_path / "m.nir") == result.lowered.graph
    checked = snncompile.check(graph, "lava", "loihi1")
    assert checked.fits and {node.op for node in checked.lowered.graph.nodes.values()} == \
        {"Input", "LoihiDense", "LoihiLIF", "Output"}
    assert [(u.name, u.cores) for u in checked.placement.layers] == [("lif1", 1), ("lif2", 1)]


def netx_chain() -> Graph:
    """Fixed-point spikes -> LoihiDense -> LoihiLIF -> LoihiDense -> LoihiLIF, all of which netx holds."""
    rng = np.random.default_rng(0)
    nodes = {"in": n.Input(type=TensorType((8,), Kind.BINARY)),
             "fc1": n.LoihiDense(weight=lava_graphs.weights(rng, (6, 8), -20, 90)), "lif1": lava_graphs.lif((6,), 100),
             "fc2": n.LoihiDense(weight=lava_graphs.weights(rng, (3, 6), -20, 90)), "lif2": lava_graphs.lif((3,), 100),
             "out": n.Output()}
    return lava_graphs.graph(nodes, lava_graphs.chain(list(nodes)))


def test_the_allow_list_is_what_the_lava_network_takes():
    from snncompile_lava.network import TAKES

    assert load_target("lava").accepts == {cls.op for cls in TAKES}


def test_compile_for_lava_writes_netx_and_the_resources_and_lava_runs_it(tmp_path, capsys):
    from snncompile_lava.netx_read import read_netx

    nir_file, out = tmp_path / "m.nir", tmp_path / "out"
    write_nir(netx_chain(), nir_file)
    assert main(["compile", str(nir_file), "--target", "lava", "--chip", "loihi1", "-o", str(out)]) == 0
    wrote = [f"wrote {out / name}" for name in ("network.h5", "resources.json")]
    assert capsys.readouterr().out.splitlines()[-2:] == wrote
    graph = read_netx(out / "network.h5")
    assert graph == read_nir(nir_file).replace(dt=graph.dt)
    resources = json.loads((out / "resources.json").read_text())
    assert resources["chip"]["name"] == "loihi1" and resources["cores"] == 2 and resources["synapses"] == 66
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["compile", str(nir_file), "--target", "lava", "--chip", "loihi1", "-o", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # the same bytes again
    x = (np.random.default_rng(1).random((4, 3, 8)) < 0.5).astype(float)
    lava = load_target("lava").run(graph, x, progress=False)
    reference = simulate(graph, x, trace=["lif1", "lif2"])
    for layer in ("lif1", "lif2"):
        assert reference.traces[layer].mean() > 0 and np.array_equal(lava.values[layer], reference.traces[layer])


def test_compile_for_lava_leaves_nothing_when_netx_refuses(tmp_path, capsys):
    nir_file, out = tmp_path / "m.nir", tmp_path / "out"
    snncompile.compile(binary_chain(np.random.default_rng(2)), "cpu", out=nir_file)
    assert main(["compile", str(nir_file), "--target", "lava", "--chip", "loihi2", "-o", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("snncompile: error: netx can hold no synaptic layer of this graph: node 'fc1': ")
    assert not out.exists()
    assert main(["compile", str(nir_file), "--target", "lava", "-o", str(nir_file)]) == 2
    assert "the lava target writes a folder, and this is a file" in capsys.readouterr().err


def test_targets_command(capsys):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    assert "lava: Intel Loihi 1 / Loihi 2 through Lava" in out and "  chips: loihi1, loihi2 (default)" in out
    assert "  runtime: lava (installed)" in out and "  accepts: Flatten, Input, LoihiConv2d" in out
    assert out.rstrip().endswith("energy-only chips (for 'snncompile energy --chip'; no target compiles for them "
                                 "yet): spinnaker1, spinnaker2")
    assert main(["targets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed["targets"]] == ["cpu", "lava", "nir"]
    assert listed["targets"][2]["chips"] == [] and listed["energy_only_chips"] == ["spinnaker1", "spinnaker2"]


def test_energy_prices_on_the_chips_of_a_target(tmp_path, capsys):
    nir_file, data, report = tmp_path / "m.nir", tmp_path / "x.npz", tmp_path / "r.json"
    snncompile.compile(binary_chain(np.random.default_rng(3)), "cpu", out=nir_file)
    np.savez(data, x=(np.random.default_rng(4).random((5, 8)) < 0.5).astype(float))
    assert main(["energy", str(nir_file), "--data", str(data), "-T", "2", "--target", "lava", "--json",
                 str(report)]) == 0
    assert [t["name"] for t in json.loads(report.read_text())["targets"]] == ["loihi1", "loihi2"]
    assert main(["energy", str(nir_file), "--data", str(data), "-T", "2", "--target", "cpu", "--chip", "loihi1"]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        "snncompile: error: chip 'loihi1' belongs to the lava target, not cpu")


def test_the_resource_report_example_runs(capsys):
    """examples/loihi_resources.py (docs/targets.md's table) on the small digits config."""
    spec = importlib.util.spec_from_file_location("loihi_resources", ROOT / "examples" / "loihi_resources.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    row, bounds = example.report("spikformer-digits", "loihi2")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["spikformer-digits", "loihi2"] and int(cells[4]) == sum(bounds.values()) and cells[5] == "1"
