"""The tool conventions equal the tools' own numbers on the same model and input: SpikingJelly 2.0's op_counter
on its own ``spikformer_cifar10`` and ``QKFormer`` (SynOps and MACs), NeuroBench 2.3's Benchmark on an snnTorch
network (every metric it computes). The runs are examples/energy_sources.py's, which prints docs/energy.md's
table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.spec_from_file_location(
    "energy_sources", Path(__file__).resolve().parent.parent / "examples" / "energy_sources.py")
sources = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sources)


@pytest.mark.parametrize(("name", "batchnorm"), [("spikformer_cifar10", True), ("qkformer", False)])
def test_spikingjelly_convention_equals_its_op_counter(name, batchnorm):
    """spikformer_cifar10 with its BatchNorms kept as nodes (SpikingJelly counts them as MACs); QKFormer folded,
    counted with BatchNorm ignored, and its head run once on the time average."""
    pytest.importorskip("spikingjelly")
    ours, (synops, macs) = sources.spikingjelly_row(*sources.spikingjelly_model(name), batchnorm)
    assert synops > 0 and macs > 0
    assert ours["synops"] == synops and ours["macs"] == macs
    assert (ours["batchnorm_macs"] > 0) == batchnorm


def test_neurobench_convention_equals_neurobench():
    pytest.importorskip("neurobench")
    ours, theirs, spikes, simulated = sources.neurobench_row()
    assert np.array_equal(spikes, simulated) and spikes.mean() > 0.05  # the same network, spike for spike
    ops = theirs["SynapticOperations"]
    assert ours["effective_macs"] == ops["Effective_MACs"] > 0  # the conv on the real-valued input
    assert ours["effective_acs"] == pytest.approx(ops["Effective_ACs"]) and ops["Effective_ACs"] > 0
    assert ours["dense"] == ops["Dense"] > ops["Effective_MACs"] + ops["Effective_ACs"]
    assert ours["membrane_updates"] == pytest.approx(theirs["MembraneUpdates"])
    assert ours["activation_sparsity"] == pytest.approx(theirs["ActivationSparsity"])
    assert round(ours["connection_sparsity"], 4) == theirs["ConnectionSparsity"] > 0
    # NeuroBench's footprint also holds snnTorch's neuron buffers (beta, threshold, ...); ours the synapses'
    assert ours["footprint_bytes"] == theirs["Footprint"] - theirs["neuron_buffers"] > 0
    assert ours["attention_ops"] == 0
