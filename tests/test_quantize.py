"""quantize: a layer worked by hand, exact spikes where the weights lie on the grid, a measured deviation where
they do not (every layer firing), shared scales, the input encoding, and the refusals with their reasons."""

import numpy as np
import pytest

from snncompile.errors import SnnError
from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.passes.quantize import Quantize
from snncompile.sim import simulate
from tests.graphs import chain, lif

GRID = 2**18  # the scale S of the grid graphs: theta = (64 * 4095 + 1) / 2**18 with vth = 4095 (headroom 8)


def test_hand_worked_layer():
    # LIF tau = 2 (dt / tau = 0.5, r = 1: c = 0.5), theta = 1, fire >=; vth = floor(32767 / 8) = 4095 (headroom 8).
    # S = (64 * 4095 + 1) / 1 = 262081; weights at exponent 0: w * 0.5 * 262081 / 64 = 2047.5078 w; the largest
    # (w = 1) is 2047.5, which fits 254 first at exponent 4 (127.97; at 3: 255.9). Mantissas: 2 * rint(x / 2) of
    # 127.969 w = 63.98, -31.99, 127.97, 16.00 -> 64, -32, 128, 16.
    # Bias 0.1 * 0.5 * 262081 = 13104.05: 3276.01 at exponent 2 (6552 > 4095 at 1) -> mant 3276, exp 2.
    fc = n.Affine(weight=np.array([[0.5, -0.25], [1.0, 0.125]]), bias=np.array([0.1, 0.0]))
    graph = chain(("fc", fc), ("lif", lif()), input_type=TensorType((2,), "binary"))
    result = Quantize().run(graph)
    dense, neuron = result.graph.nodes["fc"], result.graph.nodes["lif"]
    assert result.changed and not result.refusals
    assert dense.op == "LoihiDense" and dense.weight.tolist() == [[64, -32], [128, 16]] and dense.weight_exp == 4
    assert (int(neuron.du), int(neuron.dv), int(neuron.vth)) == (4095, 2048, 4095)
    assert neuron.bias_mant.tolist() == [3276, 0] and neuron.bias_exp.tolist() == [2, 0]
    report = result.graph.metadata["quantize"]["lif"]
    assert report["scale"] == 262081 and not report["exact"] and report["synapses"]["fc"]["clipped"] == 0


def grid_chain(rng, fire, sizes=(12, 10, 8), tau=2.0, exps=(3, 4)):
    """Spike input -> Affine -> LIF layers whose weights and biases lie on the quantize grid: weights
    ``m * 2**e * 64 / (S c)`` with even mantissas m (the largest 254), biases multiples of 64 / (S c)."""
    theta = (64 * 4095 + (fire == ">=")) / GRID
    c = 1 / tau
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        m = rng.integers(-60, 127, (b, a)) * 2
        m[0, 0] = 254
        bias = rng.integers(0, 30, b) * 64
        layers += [(f"fc{i}", n.Affine(weight=m * 2.0 ** exps[i] * 64 / (GRID * c), bias=bias / (GRID * c))),
                   (f"lif{i}", lif(threshold=theta, fire=fire, tau=tau))]
    return chain(*layers, input_type=TensorType((sizes[0],), "binary"))


def spike_rates(graph, lowered, x, layers):
    before, after = simulate(graph, x, trace=layers), simulate(lowered, x, trace=layers)
    return {k: (before.traces[k].mean(), float((before.traces[k] != after.traces[k]).mean())) for k in layers}


@pytest.mark.parametrize("fire", [">=", ">"])
def test_same_spikes_as_the_float_graph_on_the_grid(fire):
    rng = np.random.default_rng(0)
    graph = grid_chain(rng, fire)
    result = Quantize().run(graph)
    report = result.graph.metadata["quantize"]
    assert [report[k]["synapses"][f"fc{i}"]["weight_exp"] for i, k in enumerate(("lif0", "lif1"))] == [3, 4]
    assert all(r["exact"] and r["exact_steps"] == 7 for r in report.values())  # tau = 2: one bit lost per step
    x = (rng.random((7, 64, 12)) < 0.4).astype(float)
    for layer, (rate, mismatch) in spike_rates(graph, result.graph, x, ["lif0", "lif1"]).items():
        assert rate > 0.05, f"{layer} is (nearly) silent: the test would be vacuous"
        assert mismatch == 0, layer


def test_integrate_and_fire_on_the_grid_is_exact_at_every_step():
    rng = np.random.default_rng(1)
    theta = (64 * 4095 + 1) / GRID
    m = rng.integers(-60, 127, (6, 9)) * 2
    m[0, 0] = 254
    fc = n.Linear(weight=m * 2.0**2 * 64 / GRID)  # c = dt * r = 1
    graph = chain(("fc", fc), ("if", n.IF(r=1.0, v_threshold=theta, v_reset=0.0, fire=">=")),
                  input_type=TensorType((9,), "binary"))
    result = Quantize().run(graph)
    assert result.graph.metadata["quantize"]["if"]["exact_steps"] == -1  # no decay: nothing is ever rounded
    x = (rng.random((40, 32, 9)) < 0.3).astype(float)
    rate, mismatch = spike_rates(graph, result.graph, x, ["if"])["if"]
    assert rate > 0.05 and mismatch == 0


def test_measured_deviation_off_the_grid():
    # Normal weights, tau = 3 (dv = 4096 / 3 = 1365.33 -> 1365): 8-bit weights and rounded decays flip some spikes.
    rng = np.random.default_rng(2)
    layers = []
    for i, (a, b) in enumerate(((16, 24), (24, 12))):
        layers += [(f"fc{i}", n.Affine(weight=rng.normal(0.15, 0.4, (b, a)), bias=rng.normal(0.05, 0.05, b))),
                   (f"lif{i}", lif(tau=3.0))]
    graph = chain(*layers, input_type=TensorType((16,), "binary"))
    result = Quantize().run(graph)
    assert not any(r["exact"] for r in result.graph.metadata["quantize"].values())
    x = (rng.random((16, 128, 16)) < 0.4).astype(float)
    measured = spike_rates(graph, result.graph, x, ["lif0", "lif1"])
    for layer, (rate, mismatch) in measured.items():
        assert rate > 0.05, layer
        assert 0 < mismatch < 0.02, f"{layer}: {mismatch:.4f} of the spikes differ"


def test_synapses_into_one_neuron_share_its_scale_with_their_own_exponents():
    rng = np.random.default_rng(3)
    w = rng.normal(0, 1, (4, 5))
    nodes = {"input": n.Input(type=TensorType((5,), "binary")), "a": n.Linear(weight=w),
             "b": n.Linear(weight=w / 8), "lif": lif(), "output": n.Output()}
    edges = [Edge("input", "a"), Edge("input", "b"), Edge("a", "lif"), Edge("b", "lif"), Edge("lif", "output")]
    lowered = Quantize().run(Graph(nodes, edges)).graph
    a, b = lowered.nodes["a"], lowered.nodes["b"]
    assert a.weight_exp - b.weight_exp == 3 and np.array_equal(a.weight, b.weight)
    assert len(lowered.metadata["quantize"]) == 1


def test_convolution_keeps_exponent_zero_and_lowers_vth_instead():
    # largest |w| 0.5, c = 0.5: 254 at exponent 0 needs S = 254 * 64 / 0.25 = 65024 -> vth = 65024 / 64 = 1016
    w = np.zeros((2, 1, 3, 3))
    w[0, 0, 1, 1], w[1, 0, 0, 0] = 0.5, -0.25
    conv = n.Conv2d(weight=w, bias=np.zeros(2), padding=1)
    graph = chain(("conv", conv), ("lif", lif(fire=">")), input_type=TensorType((1, 4, 4), "binary"))
    lowered = Quantize().run(graph).graph
    assert lowered.nodes["conv"].op == "LoihiConv2d" and lowered.nodes["conv"].weight_exp == 0
    assert int(lowered.nodes["lif"].vth) == 1016 and np.abs(lowered.nodes["conv"].weight).max() == 254


def test_real_input_is_encoded_with_a_power_of_two_scale_on_graded_chips():
    rng = np.random.default_rng(4)
    graph = grid_chain(rng, ">=", sizes=(12, 10), exps=(3,))
    graph = graph.replace(nodes={**graph.nodes, "input": n.Input(type=TensorType((12,)))})
    result = Quantize(graded=True).run(graph)
    enc = result.graph.nodes["fc0.encode"]
    assert (enc.op, enc.scale, enc.limit) == ("LoihiEncode", 128.0, 255)  # 2**floor(log2(255 / 1.0))
    assert result.graph.nodes["fc0"].message_bits == 8 and result.graph.nodes["fc0"].weight_exp == -4
    x = rng.integers(0, 17, (6, 64, 12)) / 16  # digits-like: k / 16 * 128 is an integer, encoded exactly
    rate, mismatch = spike_rates(graph, result.graph, x, ["lif0"])["lif0"]
    assert rate > 0.05 and mismatch == 0


def refused(graph, **options):
    result = Quantize(**options).run(graph)
    assert not result.changed
    return [str(r) for r in result.refusals]


def one_layer(neuron, synapse=None, kind="binary"):
    synapse = synapse or n.Linear(weight=np.ones((3, 3)))
    return chain(("fc", synapse), ("neuron", neuron), input_type=TensorType((3,), kind))


@pytest.mark.parametrize(("neuron", "reason"), [
    (lif(reset="subtract"), "subtract reset: Loihi's LIF resets v to 0"),
    (n.LIF(tau=2.0, r=1.0, v_leak=0.5, v_threshold=1.0, v_reset=0.0),
     "v_reset 0 != v_leak 0.5: Loihi's LIF rests and resets at the same potential"),
    (n.LIF(tau=np.array([2.0, 3.0, 2.0]), r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0),
     "tau varies across the layer (2 values); Loihi's LIF takes one du, dv and vth per layer"),
    (lif(tau=0.5), "dt / tau_mem = 2 > 1: forward Euler overshoots, which Loihi's decays cannot express"),
])
def test_refuses_neurons_loihi_cannot_express(neuron, reason):
    assert refused(one_layer(neuron)) == [f"quantize: neuron: {reason}"]


def test_refuses_inputs_the_chip_cannot_take():
    counts = chain(("pool", n.SumPool2d(kernel_size=2, stride=2)), ("flat", n.Flatten()),
                   ("fc", n.Linear(weight=np.ones((2, 1)))), ("neuron", lif()),
                   input_type=TensorType((1, 2, 2), "binary"))
    assert refused(counts) == ["quantize: neuron: 'fc' reads graded values (spike counts), and this chip takes binary "
                               "spikes (run graded-to-binary first)"]
    assert refused(one_layer(lif(), kind="real")) == [
        "quantize: neuron: 'fc' reads the real-valued graph input: without graded spikes it stays on the host "
        "(spike_input=true reads 0/1 events as spikes)"]
    scaled = chain(("scale", n.Scale(scale=2.0)), ("neuron", lif()), input_type=TensorType((3,), "binary"))
    assert refused(scaled) == ["quantize: neuron: input from 'scale' (Scale), not a synapse: Loihi's LIF sums "
                               "synapses only"]


def test_spike_input_reads_events_as_binary_spikes():
    lowered = Quantize(spike_input=True).run(one_layer(lif(), kind="real")).graph
    assert lowered.nodes["fc"].op == "LoihiDense" and lowered.nodes["fc"].message_bits == 0
    assert lowered.types["input"].kind == "binary"  # the Input is declared what it is read as


def test_options_out_of_range_are_one_line_errors():
    with pytest.raises(SnnError, match=r"pass 'quantize': weight_bits must lie in \[2, 8\]"):
        Quantize(weight_bits=9)


def test_cuba_lif_decays_and_settled_bias_by_hand():
    # dt = 1, tau_syn = 2 (ks = 0.5: du = 2048 - 1), tau_mem = 4 (km = 0.25: dv = 1024), r = w_in = 1, theta = 1, >:
    # vth = 4095, S = 64 * 4095 = 262080; c = km r ks w_in = 0.125: w = 1 -> 511.875 at exponent 0, 127.97 at 2 -> 128.
    # The bias 0.5 drives the current, which settles at 0.5: km r w_in 0.5 S = 32760 per step = 4095 << 3.
    neuron = n.CubaLIF(tau_syn=2.0, tau_mem=4.0, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, w_in=1.0)
    graph = one_layer(neuron, n.Affine(weight=np.eye(3), bias=np.full(3, 0.5)))
    result = Quantize().run(graph)
    lowered = result.graph.nodes["neuron"]
    assert (int(lowered.du), int(lowered.dv), int(lowered.vth)) == (2047, 1024, 4095)
    assert result.graph.nodes["fc"].weight_exp == 2 and result.graph.nodes["fc"].weight.max() == 128
    assert lowered.bias_mant.tolist() == [4095] * 3 and lowered.bias_exp.tolist() == [3] * 3
    assert not result.graph.metadata["quantize"]["neuron"]["exact"]  # the current's rise is not modelled


def test_recurrent_synapse_through_a_previous_node():
    from snncompile.ir.nir_io import read_nir

    graph = read_nir("tests/data/braille_rnn.nir", dt=1e-4)
    result = Quantize(graded=True).run(graph)
    assert not result.refusals and set(result.graph.metadata["quantize"]) == {"lif1.lif", "lif2"}
    ops = {k: result.graph.nodes[k].op for k in ("fc1.encode", "fc1", "lif1.w_rec", "lif1.w_rec.prev", "lif1.lif")}
    assert ops == {"fc1.encode": "LoihiEncode", "fc1": "LoihiDense", "lif1.w_rec": "LoihiDense",
                   "lif1.w_rec.prev": "Previous", "lif1.lif": "LoihiLIF"}
    assert result.graph.sources("lif1.lif")["input"] == ["lif1.w_rec.prev", "fc1"]


def test_lowered_graph_round_trips_through_nir_byte_for_byte(tmp_path):
    from snncompile.ir.nir_io import read_nir, write_nir

    graph = grid_chain(np.random.default_rng(5), ">=")
    graph = graph.replace(nodes={**graph.nodes, "input": n.Input(type=TensorType((12,)))})
    lowered = Quantize(graded=True).run(graph).graph
    write_nir(lowered, tmp_path / "a.nir")
    write_nir(Quantize(graded=True).run(graph).graph, tmp_path / "b.nir")
    assert read_nir(tmp_path / "a.nir", dt=1.0) == lowered
    assert (tmp_path / "a.nir").read_bytes() == (tmp_path / "b.nir").read_bytes()


def product_layer():
    """Spikes [3, 4] -> SpikeMatMul with their own transpose (coincidence counts [3, 3]) -> LIF."""
    nodes = {"input": n.Input(type=TensorType((3, 4), "binary")), "mm": n.SpikeMatMul(transpose_b=True),
             "lif": lif(threshold=1.5), "output": n.Output()}
    edges = [Edge("input", "mm", "a"), Edge("input", "mm", "b"), Edge("mm", "lif"), Edge("lif", "output")]
    return Graph(nodes, edges)


def test_integer_products_reach_the_neuron_through_an_identity_synapse_on_graded_chips():
    graph = product_layer()
    result = Quantize(graded=True).run(graph)
    synapse = result.graph.nodes["lif.synapse"]
    assert synapse.op == "LoihiDense" and synapse.message_bits == 8
    assert np.count_nonzero(synapse.weight) == 3 and len(set(np.diag(synapse.weight))) == 1  # a scaled identity
    assert result.graph.sources("lif.synapse")["input"] == ["mm"] and result.graph.sources("lif")["input"] == [
        "lif.synapse"]
    assert [str(r) for r in Quantize().run(graph).refusals] == [
        "quantize: lif: input from 'mm' (SpikeMatMul): integer values, not spikes, which this chip sends only as "
        "graded spikes"]
