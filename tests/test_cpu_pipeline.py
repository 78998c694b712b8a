"""The cpu target's default pipeline on every family: no attention or mixer node is left (synapses, neurons,
SpikeMatMul, masks, data movement; FWformer keeps the BatchNorm after its mixer, see docs/passes.md); every spike of
every spiking node is unchanged."""

from pathlib import Path

import numpy as np
import pytest

from snncompile.cli.main import main
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.ir.nir_io import write_nir
from snncompile.nn.data import load_digits_split
from snncompile.passes.registry import pipeline, run_pipeline
from snncompile.targets.plugins import load_target
from tests.checks import assert_same_spikes
from tests.test_spikingresformer import calibrated_tiny

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HIGH_LEVEL = {"SpikingSelfAttention", "HeadSum", "TokenSum", "DSSAScore", "DSSAAggregate", "FourierMixer",
              "WaveletMixer"}


def assert_lowered_and_identical(graph, x_seq):
    lowered, _ = run_pipeline(graph, pipeline("cpu"))
    assert HIGH_LEVEL.isdisjoint(node.op for node in lowered.nodes.values())
    assert_same_spikes(graph, lowered, x_seq)
    return lowered


@pytest.mark.parametrize("checkpoint", ["spikformer_digits", "fwformer_digits", "qkformer_digits"])
def test_trained_digits_models(checkpoint):
    model, meta = load_model(EXAMPLES / f"{checkpoint}.pt")
    graph = trace(model, model.input_shape, fold_bn=False)
    x = load_digits_split()[2][:24].numpy()
    assert_lowered_and_identical(graph, np.broadcast_to(x, (meta["T"],) + x.shape))


def test_spikingresformer_small():
    model, x_seq = calibrated_tiny()
    graph = trace(model, model.input_shape)
    assert_lowered_and_identical(graph, x_seq.numpy())


def test_compile_refuses_what_the_target_cannot_run(tmp_path, capsys, monkeypatch):
    model, _ = load_model(EXAMPLES / "spikformer_digits.pt")
    nir_file = tmp_path / "m.nir"
    write_nir(trace(model, model.input_shape), nir_file)
    cpu = load_target("cpu")
    monkeypatch.setattr(cpu, "pipeline", lambda chip: ("fold-batchnorm",))  # a pipeline that forgets the attention
    assert main(["compile", str(nir_file), "--target", "cpu", "-o", str(tmp_path / "out.nir")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("snncompile: error: the cpu pipeline leaves 1 node(s) that the cpu target does not run: "
                   "SpikingSelfAttention x1 (blocks.0.ssa.attn) are high-level nodes the pipeline did not lower "
                   f"(--explain gives each pass's reason) (allowed: {', '.join(sorted(cpu.accepts))})")
    assert not (tmp_path / "out.nir").exists()
