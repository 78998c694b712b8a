"""lava-dl's own ``netx.hdf5.Network`` loads what netx_write emits and, run by Lava's CPU backend
(``Loihi2SimCfg(select_tag='fixed_pt')``), gives the spikes of snncompile's fixed-point simulation, every layer.

Timing: netx builds every layer as a Lava synapse process plus a LIF, and each synapse process sends at step t what it
computed at step t - 1 (lava-nc's bit-accurate Dense and Conv models buffer their output), so the k-th synaptic layer
of the chain spikes k steps after the per-step reference semantics (docs/netx.md, "Timing"). Lava runs T + depth
steps on the input padded with zeros and layer k is compared over steps k ... k + T - 1. A recurrent synapse adds
the same one step, which is exactly the reference's Previous node (the neuron's spikes one step back), so dense_rec
needs no other shift.

While the pipeline fills, a neuron with a bias integrates it for k steps before its first input arrives (the conv
net's biased layers show it). netx's own answer is its per-layer reset: ``Network(reset_interval, reset_offset)``
zeroes layer k's state at step ``reset_offset + k`` (1-based), so the runs here use ``reset_offset = 1``: each layer
starts from zero at the step its first input arrives.

netx is imported with one stub (docs/netx.md, "Loading with lava-dl"): ``lava.lib.dl.slayer.object_detection`` (the
only module that imports torchvision) pre-seeded as an empty module, here in the tests only.
"""

from __future__ import annotations

import sys
import types

import h5py
import numpy as np
import pytest
from snncompile_lava import compat
from snncompile_lava.netx_layers import dense_weight_problem
from snncompile_lava.netx_read import read_netx
from snncompile_lava.netx_write import write_netx

from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.sim import simulate
from tests.test_netx_read import slayer_file
from tests.test_netx_write import conv_net, dense_chain, recurrent_net, sequential


@pytest.fixture(scope="module")
def lava():
    compat.install()
    with pytest.MonkeyPatch.context() as mp:
        name = "lava.lib.dl.slayer.object_detection"
        mp.setitem(sys.modules, name, types.ModuleType(name))
        from lava.lib.dl import netx
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
    return types.SimpleNamespace(netx=netx, RunSteps=RunSteps, cfg=Loihi2SimCfg(select_tag="fixed_pt"), Sink=Sink,
                                 Source=Source)


def run_netx(lava, path, x: np.ndarray, steps: int) -> list[np.ndarray]:
    """Every layer's spikes, [steps, *torch shape], from netx's Network on Lava, fed ``x`` ([T, *shape]) padded."""
    padded = np.zeros((steps, *x.shape[1:]), np.int32)
    padded[:len(x)] = x
    net = lava.netx.hdf5.Network(net_config=str(path), reset_interval=steps, reset_offset=1)
    if len(net.inp.shape) == 1:  # a vector input: netx takes it flat, row-major
        data = padded.reshape(steps, -1).T
    else:  # [T, C, H, W] -> Lava's (x, y, f, T)
        data = padded.transpose(*range(padded.ndim - 1, 0, -1), 0)
    source = lava.Source(data=data)
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sinks.append(lava.Sink(shape=layer.out.shape, buffer=steps))
        layer.out.connect(sinks[-1].a_in)
    try:
        net.run(condition=lava.RunSteps(num_steps=steps), run_cfg=lava.cfg)
        got = [np.moveaxis(s.data.get(), -1, 0) for s in sinks]
    finally:
        net.stop()
    return [g.transpose(0, 3, 2, 1) if g.ndim == 4 else g for g in got]  # Lava's (x, y, f) -> torch (C, H, W)


def reference(graph: Graph, x: np.ndarray) -> list[np.ndarray]:
    neurons = [name for name, node in graph.nodes.items() if isinstance(node, n.LoihiLIF)]
    traces = simulate(graph, x[:, None], trace=neurons).traces
    return [traces[name][:, 0] for name in neurons]


def compare(lava, path, graph: Graph, x: np.ndarray) -> None:
    """Every layer's spikes from netx's Network on Lava equal the simulator's, k steps later at layer k."""
    steps = len(x)
    want = reference(graph, x)
    depth = len(want)
    got = run_netx(lava, path, x, steps + depth)
    assert len(got) == depth
    for k, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        rate = w.mean()
        assert 0 < rate < 0.9, f"layer {k} fires at rate {rate:.2f}; the test needs every layer firing"
        assert not g[:k].any(), f"layer {k} spiked before its {k}-step latency"
        assert np.array_equal(g[k:k + steps], w), f"layer {k}: Lava's spikes differ from the simulator's"


@pytest.mark.parametrize("build", [dense_chain, conv_net, recurrent_net])
def test_netx_runs_the_emitted_file_with_the_simulators_spikes(lava, tmp_path, build):
    rng = np.random.default_rng(10)
    graph = build(rng)
    write_netx(graph, tmp_path / "net.h5", complete=True)
    compare(lava, tmp_path / "net.h5", graph, (rng.random((12, *graph.types["x"].shape)) < 0.35).astype(np.int32))


def test_an_imported_slayer_file_simulates_as_netx_runs_it(lava, tmp_path):
    """The importer's reading (odd weights doubled at weight_exp -1, per-channel bias at bias_exp 6, du = iDecay - 1)
    against netx's own, on the SLAYER-layout file of tests/test_netx_read.py."""
    rng = np.random.default_rng(11)
    slayer_file(tmp_path / "s.h5", rng)
    graph = read_netx(tmp_path / "s.h5")
    compare(lava, tmp_path / "s.h5", graph, (rng.random((12, 2, 6, 5)) < 0.4).astype(np.int32))


def test_weights_flagged_by_dense_weight_problem_do_run_differently_on_lava(lava, tmp_path):
    """[[-128, 0], [-64, 0]] (every weight <= 0): netx scales them to -256 and -128 as mixed-sign weights, Lava's
    Dense takes the matrix as inhibitory and clips -256 to -255 before truncating, so neuron 0 receives -96, not
    -128. With bias 200 and threshold 90 (no voltage memory: dv = 4095, du = 4095), -128 + 200 = 72 never fires and
    -96 + 200 = 104 always does; neuron 1 (-64 + 200 = 136) fires either way."""
    weight = np.array([[-128, 0], [-64, 0]])
    assert dense_weight_problem(weight)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f["layer/0/type"], f["layer/0/shape"] = np.bytes_("input"), [2]
        layer = f.create_group("layer/1")
        layer["type"], layer["shape"], layer["weight"], layer["bias"] = np.bytes_("dense"), [2], weight, [200, 200]
        for key, value in {"type": np.bytes_("CUBA"), "iDecay": 4096, "vDecay": 4095, "vThMant": 90,
                           "refDelay": 1, "gradedSpike": False}.items():
            layer[f"neuron/{key}"] = value
    x = np.tile([1, 0], (6, 1)).astype(np.int32)
    graph = sequential((2,), ("fc", n.LoihiDense(weight=weight)),
                       ("lif", n.LoihiLIF(du=4095, dv=4095, vth=90, bias_mant=200, bias_exp=6)))
    exact = reference(graph, x)[0]
    lava_spikes = run_netx(lava, tmp_path / "w.h5", x, 7)[0][1:]
    assert exact[:, 1].all() and lava_spikes[:, 1].all()
    assert not exact[:, 0].any() and lava_spikes[:, 0].all()
