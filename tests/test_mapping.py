"""Core mapping (snncompile.targets.mapping) on small graphs whose core counts are derived by hand from the limits
of a chip description written here: neurons, synaptic memory, fan-in and fan-out axons, cores per chip; element maps
through data movement, sums of spike sources, padding, recurrence; neurons that cannot fit."""

from __future__ import annotations

import numpy as np
import pytest

from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.targets.chips import load_chip
from snncompile.targets.mapping import place
from tests.graphs import chain, lif


@pytest.fixture
def chip(tmp_path):
    """A chip description with the given limits (weight_bits 8), as a user would write it."""

    def make(**limits: int):
        lines = ['name = "test"', "[precision.weight_bits]", "value = 8", 'source = "test"']
        for key, value in limits.items():
            lines += [f"[resources.{key}]", f"value = {value}", 'source = "test"']
        path = tmp_path / "test.toml"
        path.write_text("\n".join(lines) + "\n")
        return load_chip(str(path))

    return make


def spikes(*shape: int) -> TensorType:
    return TensorType(shape, Kind.BINARY)


def dense(out: int, inp: int) -> n.Linear:
    return n.Linear(weight=np.ones((out, inp)))


def layer(placement, name):
    return next(u for u in placement.layers if u.name == name)


def test_3000_neurons_on_1024_neuron_cores_take_3_cores(chip):
    graph = chain(("fc", dense(3000, 100)), ("lif", lif()), input_type=spikes(100))
    placement = place(graph, chip(neurons_per_core=1024, cores_per_chip=2))
    assert [(c.start, c.stop) for c in placement.cores] == [(0, 1024), (1024, 2048), (2048, 3000)]
    use = layer(placement, "lif")
    assert (use.cores, use.synapses, use.memory_bits, use.bound) == (3, 300_000, 2_400_000, "neurons_per_core")
    assert placement.chips == 2 and placement.problems == ()


def test_synaptic_memory_counts_only_non_zero_weights(chip):
    weight = np.zeros((1000, 100))
    weight[:, :50] = 0.5  # 50 synapses per neuron
    graph = chain(("fc", n.Linear(weight=weight)), ("lif", lif()), input_type=spikes(100))
    placement = place(graph, chip(neurons_per_core=1024, synaptic_memory_bits_per_core=200_000))
    # 200,000 bits / 8 bits = 25,000 synapses = 500 neurons per core
    assert [(c.start, c.stop, c.synapses) for c in placement.cores] == [(0, 500, 25_000), (500, 1000, 25_000)]
    assert layer(placement, "lif").bound == "synaptic_memory_bits_per_core"


def test_fan_in_follows_tokens_through_a_transpose(chip):
    """A token-wise Linear [4 tokens, 8] reads 8 inputs of its own token. 16 input axons per core: 2 tokens (16
    neurons) per core; after a Transpose to [8, 4] consecutive neurons belong to different tokens: 2 per core."""
    limits = {"neurons_per_core": 1024, "fan_in_axons_per_core": 16}
    straight = place(chain(("fc", dense(8, 8)), ("lif", lif()), input_type=spikes(4, 8)), chip(**limits))
    assert [(c.stop - c.start, c.fan_in) for c in straight.cores] == [(16, 16), (16, 16)]
    assert layer(straight, "lif").bound == "fan_in_axons_per_core"
    moved = place(chain(("fc", dense(8, 8)), ("t", n.Transpose(perm=(1, 0))), ("lif", lif()),
                        input_type=spikes(4, 8)), chip(**limits))
    assert [(c.stop - c.start, c.fan_in) for c in moved.cores] == [(2, 16)] * 16


def test_convolution_counts_no_synapse_in_the_padding(chip):
    """3x3 all-ones kernel, padding 1, on 4x4: 4 corners x 4 + 8 edges x 6 + 4 inside x 9 = 100 synapses; the first
    neuron (a corner) reads 4 inputs. A 2x2 sum pool with stride 2 over [2, 4, 4]: 8 outputs x 4."""
    conv = n.Conv2d(weight=np.ones((1, 1, 3, 3)), bias=np.zeros(1), padding=(1, 1))
    graph = chain(("conv", conv), ("lif", lif()), input_type=spikes(1, 4, 4))
    assert layer(place(graph, chip(neurons_per_core=1)), "lif").synapses == 100
    first = place(graph, chip(neurons_per_core=1, fan_in_axons_per_core=100)).cores[0]
    assert (first.synapses, first.fan_in) == (4, 4)
    pool = chain(("sum", n.SumPool2d(kernel_size=(2, 2), stride=(2, 2))), ("th", n.Threshold(threshold=np.array(0.5))),
                 input_type=spikes(2, 4, 4))
    assert layer(place(pool, chip(neurons_per_core=1024)), "th").synapses == 32


def test_fan_out_bound(chip):
    """10 neurons each send to all 3 cores of a 3000-neuron layer: 3 output axons each; 8 per core allow 2 neurons
    per core, so 5 cores."""
    graph = chain(("fc1", dense(10, 10)), ("src", lif()), ("fc2", dense(3000, 10)), ("dst", lif()),
                  input_type=spikes(10))
    placement = place(graph, chip(neurons_per_core=1024, fan_out_axons_per_core=8))
    src = [c for c in placement.cores if c.layer == "src"]
    assert [(c.stop - c.start, c.fan_out) for c in src] == [(2, 6)] * 5
    assert layer(placement, "src").bound == "fan_out_axons_per_core" and layer(placement, "dst").cores == 3
    assert all(c.fan_in == 10 for c in placement.cores if c.layer == "dst")


def test_a_sum_of_two_spike_sources_needs_an_axon_for_each():
    """Two LIF layers of 8 summed into one Linear 4 x 8: each of its neurons reads 16 presynaptic neurons through
    8 weights (Lava sums the two sources at the synapse's input)."""
    nodes = {"input": n.Input(type=spikes(8)), "fa": dense(8, 8), "a": lif(), "fb": dense(8, 8), "b": lif(),
             "add": n.Add(), "fc": dense(4, 8), "c": lif(), "output": n.Output()}
    edges = [Edge("input", "fa"), Edge("fa", "a"), Edge("input", "fb"), Edge("fb", "b"), Edge("a", "add"),
             Edge("b", "add"), Edge("add", "fc"), Edge("fc", "c"), Edge("c", "output")]
    placement = place(Graph(nodes, edges), load_chip("loihi1"))
    core = next(c for c in placement.cores if c.layer == "c")
    assert (core.synapses, core.fan_in) == (32, 16)
    assert next(c for c in placement.cores if c.layer == "a").fan_out == 8  # each of 8 neurons reaches c's core


def test_recurrence_reads_the_layer_itself(chip):
    """lif (5) reads 3 inputs and, through a Previous node, its own 5 neurons: 8 axons; each neuron reaches one core
    (its own)."""
    nodes = {"input": n.Input(type=spikes(3)), "fc": dense(5, 3), "lif": lif(), "rec": dense(5, 5),
             "prev": n.Previous(type=TensorType((5,), Kind.REAL)), "output": n.Output()}
    edges = [Edge("input", "fc"), Edge("fc", "lif"), Edge("prev", "lif"), Edge("lif", "rec"), Edge("rec", "prev"),
             Edge("lif", "output")]
    placement = place(Graph(nodes, edges), chip(neurons_per_core=1024, fan_out_axons_per_core=100))
    assert [(c.synapses, c.fan_in, c.fan_out) for c in placement.cores] == [(40, 8, 5)]


def test_a_synapse_into_an_output_gets_its_own_compartments(chip):
    graph = chain(("fc", dense(4, 6)), ("lif", lif()), ("head", dense(10, 4)), input_type=spikes(6))
    placement = place(graph, chip(neurons_per_core=1024))
    head = layer(placement, "head")
    assert (head.op, head.neurons, head.synapses) == ("readout", 10, 40)


def test_a_neuron_over_a_limit_alone_is_one_problem_per_layer(chip):
    graph = chain(("fc", dense(4, 5000)), ("lif", lif()), input_type=spikes(5000))
    placement = place(graph, load_chip("loihi1"))
    assert len(placement.cores) == 4 and all(c.fan_in == 5000 for c in placement.cores)
    (problem,) = placement.problems
    assert str(problem) == ("lif: 4 neuron(s) each alone exceed the input axons a core has (one per distinct "
                            "presynaptic neuron): the largest needs 5,000; a loihi1 core has 4,096 "
                            "(fan_in_axons_per_core); a layer is not split finer than one neuron")


def test_off_core_nodes_are_listed_and_feed_their_neurons():
    """q, k spikes -> SpikeMatMul (not on a neuron core) -> LIF: one synapse per neuron."""
    nodes = {"input": n.Input(type=spikes(4, 3)), "q": lif(), "mm": n.SpikeMatMul(transpose_b=True),
             "lif": lif(), "output": n.Output()}
    edges = [Edge("input", "q"), Edge("q", "mm", "a"), Edge("q", "mm", "b"), Edge("mm", "lif"), Edge("lif", "output")]
    placement = place(Graph(nodes, edges), load_chip("loihi2"))
    assert placement.off_core == ("mm",) and layer(placement, "lif").synapses == 16
