"""Models written as the published Spikformer, SpikingResformer and QKFormer code is, against the SpikingJelly
releases that code pins (0.0.0.0.12 ``clock_driven``, 0.0.0.0.14 ``activation_based``; neurons built with
``backend='cupy'``): exported by ``snncompile export --model`` where that release is installed, the NIR file is
spike-exact (float64) against the release's own multi-step forward on every neuron layer, also after
``compile --target cpu``.

Each release is installed apart (``make setup``: ``.venv/spikingjelly-<version>``, ``pip install --no-deps --target``)
and runs in a subprocess with ``PYTHONPATH`` pointing at it: ``tests/published/run_reference.py`` builds the model,
calibrates its batch norms so every neuron layer fires, and saves the release's spikes, input, output and the
state_dict; the export runs the ``snncompile`` command in the same kind of subprocess.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snncompile.cli.main import main
from snncompile.ir.nir_io import read_nir
from snncompile.sim import simulate

HERE = Path(__file__).parent / "published"
CLI = Path(sys.executable).parent / "snncompile"
CASES = {
    "spikformer_sj12": ("spikformer_sj12.py", "0.0.0.0.12", {}),
    "spikformer_sj14": ("spikformer_sj14.py", "0.0.0.0.14", {}),
    "dssa_sj14": ("dssa_sj14.py", "0.0.0.0.14", {}),
    "qkformer_sj12": ("qkformer_sj12.py", "0.0.0.0.12", {"leak": False}),
}


def release(version: str) -> Path:
    path = Path(sys.prefix) / f"spikingjelly-{version}"
    if not (path / "spikingjelly").is_dir():
        pytest.skip(f"SpikingJelly {version} is not installed in {path} (make setup installs it)")
    return path


def run(args: list[str], sj: Path | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(sj) if sj else ""}
    return subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=600)


def reference(tmp: Path, model: str, sj: Path, kwargs: dict) -> dict[str, np.ndarray]:
    done = run([sys.executable, HERE / "run_reference.py", "--model", HERE / model, "--sj-path", sj,
                "--out", tmp / "ref.npz", "--seed", "0", "--batch", "2", "--build-kwargs", json.dumps(kwargs)], None)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(np.load(tmp / "ref.npz"))


def export(tmp: Path, factory: str, sj: Path) -> subprocess.CompletedProcess:
    done = run([CLI, "export", tmp / "ref.state_dict.pt", "--model", factory, "-o", tmp / "m.nir",
                "--input-shape", "3,32,32"], sj)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def assert_exact(nir: Path, ref: dict[str, np.ndarray]) -> None:
    graph = read_nir(nir)
    spikes = {k.removeprefix("spikes/"): v for k, v in ref.items() if k.startswith("spikes/")}
    assert spikes and set(spikes) <= set(graph.nodes), set(spikes) - set(graph.nodes)
    sim = simulate(graph, ref["input"], trace=list(spikes))
    steps, batch = ref["input"].shape[:2]
    for name, s in spikes.items():
        s = s.reshape((steps, batch) + graph.types[name].shape)
        assert s.mean() > 0.01, f"{name} fires at {s.mean():.4f}: test would be vacuous"
        assert (s != sim.traces[name]).sum() == 0, f"{name}: {(s != sim.traces[name]).sum()}/{s.size} spikes differ"
    assert np.abs(sim.output.mean(0) - ref["output"]).max() < 1e-9  # the models' readout: mean over T


@pytest.mark.parametrize("case", list(CASES))
def test_published_style_model_spike_exact(tmp_path, case):
    model, version, kwargs = CASES[case]
    sj = release(version)
    ref = reference(tmp_path, model, sj, kwargs)
    factory = f"{HERE / model}:build"
    if kwargs:
        (tmp_path / "factory.py").write_text(f"import sys\nsys.path.insert(0, {str(HERE)!r})\n"
                                             f"from {Path(model).stem} import build as _build\n"
                                             f"def build():\n    return _build(**{kwargs!r})\n")
        factory = f"{tmp_path / 'factory.py'}:build"
    export(tmp_path, factory, sj)
    assert_exact(tmp_path / "m.nir", ref)
    assert main(["compile", str(tmp_path / "m.nir"), "--target", "cpu", "-o", str(tmp_path / "cpu.nir")]) == 0
    assert_exact(tmp_path / "cpu.nir", ref)


def test_state_leak_across_samples_compiles_the_per_sample_network(tmp_path):
    """QKFormer's published stage 3 feeds its projection LIF [T*B, C, N]: the export warns, naming the module, and
    compiles the per-sample network, i.e. the model with the bug fixed (``build(leak=False)``), spike for spike."""
    sj = release("0.0.0.0.12")
    ref = reference(tmp_path, "qkformer_sj12.py", sj, {"leak": False})
    done = export(tmp_path, f"{HERE / 'qkformer_sj12.py'}:build", sj)  # build() is leak=True, as published
    assert "module 'stage3.0.attn.proj_lif' (MultiStepLIFNode) runs on a [T*B, ...] tensor" in done.stderr
    assert_exact(tmp_path / "m.nir", ref)
