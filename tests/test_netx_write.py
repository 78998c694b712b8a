"""netx HDF5 emitter (targets/snncompile_lava/netx_write.py): the layout lava-dl's netx 0.6.0 reads, every value
mapped as docs/netx.md derives it, byte-identical and atomic writes, refusals with the reason.

The graph builders here are shared by tests/test_netx_read.py and tests/test_netx_lava.py: fixed-point graphs built
directly with integer weights (the shapes are chosen unequal, H != W and stride/padding differing per axis, so that an
axis swapped anywhere shows)."""

from __future__ import annotations

import os
import re

import h5py
import numpy as np
import pytest
from snncompile_lava.netx_layers import dense_weight_problem
from snncompile_lava.netx_write import write_netx

from snncompile.errors import OutputFileError, UnsupportedError
from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir import nodes as n


def lif(du: int = 1023, dv: int = 512, vth: int = 120, bias: np.ndarray | int = 0) -> n.LoihiLIF:
    """A LoihiLIF in the form netx_read gives back: ``bias`` is netx's mantissa at bias_exp 6."""
    return n.LoihiLIF(du=du, dv=dv, vth=vth, bias_mant=bias, bias_exp=6)


def even(rng: np.random.Generator, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    return rng.integers(lo // 2, hi // 2, shape) * 2


def sequential(input_shape: tuple[int, ...], *named: tuple[str, n.Node]) -> Graph:
    names = ["x", *(k for k, _ in named), "out"]
    nodes = {"x": n.Input(type=TensorType(input_shape, Kind.BINARY)), **dict(named), "out": n.Output()}
    return Graph(nodes, [Edge(a, b) for a, b in zip(names, names[1:], strict=False)])


def dense_chain(rng: np.random.Generator) -> Graph:
    """16 -> 12 -> 8 -> 5, one layer without current memory (du = 4095), biases on the first."""
    return sequential((16,),
                      ("fc1", n.LoihiDense(weight=even(rng, (12, 16), -100, 110))),
                      ("lif1", lif(bias=rng.integers(-2, 3, 12))),
                      ("fc2", n.LoihiDense(weight=even(rng, (8, 12), -110, 100))),
                      ("lif2", lif(du=4095, dv=300, vth=90)),
                      ("fc3", n.LoihiDense(weight=even(rng, (5, 8), -120, 130))),
                      ("lif3", lif(du=2047, dv=100, vth=100)))


def conv_net(rng: np.random.Generator) -> Graph:
    """[2, 6, 9] -> conv 3x3 (padding (1, 0)) -> [4, 6, 7] -> conv 3x2, groups 2, stride (1, 2) -> [4, 4, 3]
    -> flatten -> dense 5; a per-channel bias on the first conv, a per-neuron bias on the second."""
    return sequential((2, 6, 9),
                      ("conv1", n.LoihiConv2d(weight=even(rng, (4, 2, 3, 3), -70, 70), padding=(1, 0))),
                      ("lif1", lif(vth=100, bias=rng.integers(-1, 3, (4, 1, 1)))),
                      ("conv2", n.LoihiConv2d(weight=even(rng, (4, 2, 3, 2), -60, 80), stride=(1, 2), groups=2)),
                      ("lif2", lif(du=4095, dv=1024, vth=60, bias=rng.integers(-1, 2, (4, 4, 3)))),
                      ("flat", n.Flatten(start_dim=0, end_dim=-1)),
                      ("fc", n.LoihiDense(weight=even(rng, (5, 48), -50, 70))),
                      ("lif3", lif(vth=150)))


def recurrent_net(rng: np.random.Generator, previous_first: bool = False) -> Graph:
    """10 -> dense_rec 7 -> 4: the neuron's spikes back into it through LoihiDense -> Previous (as an NIR file's cycle
    reads back) or, ``previous_first``, Previous -> LoihiDense (the same function)."""
    nodes = {"x": n.Input(type=TensorType((10,), Kind.BINARY)),
             "fc": n.LoihiDense(weight=even(rng, (7, 10), -60, 100)),
             "lif": lif(dv=256, vth=110),
             "rec": n.LoihiDense(weight=even(rng, (7, 7), -90, 60)),
             "prev": n.Previous(type=TensorType((7,), Kind.BINARY if previous_first else Kind.REAL)),
             "fc2": n.LoihiDense(weight=even(rng, (4, 7), -100, 100)),
             "lif2": lif(vth=90), "out": n.Output()}
    loop = [Edge("lif", "prev"), Edge("prev", "rec"), Edge("rec", "lif")] if previous_first else \
        [Edge("prev", "lif"), Edge("lif", "rec"), Edge("rec", "prev")]
    edges = [Edge("x", "fc"), Edge("fc", "lif"), *loop, Edge("lif", "fc2"), Edge("fc2", "lif2"), Edge("lif2", "out")]
    return Graph(nodes, edges)


def layers(path: os.PathLike[str]) -> dict[str, h5py.Group]:
    f = h5py.File(path, "r")
    return {k: f["layer"][k] for k in f["layer"]}


def test_dense_layers_hold_the_values_netx_reads(tmp_path):
    """Hand derivation from netx 0.6.0's reader: du = iDecay - 1, so iDecay = du + 1; vDecay = dv; vThMant = vth;
    bias_mant = bias at bias_exp 6; weights as stored integers. The input layer has a shape and nothing else."""
    rng = np.random.default_rng(0)
    graph = dense_chain(rng)
    report = write_netx(graph, tmp_path / "a.h5")
    assert report.layers == ("input", "dense", "dense", "dense") and not report.extension
    got = layers(tmp_path / "a.h5")
    assert sorted(got) == ["0", "1", "2", "3"]
    assert set(got["0"]) == {"type", "shape"} and got["0"]["type"][()] == b"input"
    assert got["0"]["shape"][()].tolist() == [16]
    l1, l2 = got["1"], got["2"]
    assert l1["type"][()] == b"dense" and l1["shape"][()].tolist() == [12]
    assert np.array_equal(l1["weight"][()], graph.nodes["fc1"].weight)
    assert np.array_equal(l1["bias"][()], graph.nodes["lif1"].bias_mant)
    assert "bias" not in l2  # no bias: nothing written, as SLAYER writes it
    neuron = {k: l2["neuron"][k][()] for k in l2["neuron"]}
    assert neuron == {"type": b"CUBA", "iDecay": 4096, "vDecay": 300, "vThMant": 90, "refDelay": 1,
                      "gradedSpike": False}
    assert got["3"]["neuron"]["iDecay"][()] == 2048


def test_conv_layers_keep_torch_order_and_per_neuron_bias_in_netx_order(tmp_path):
    """netx reverses shape/stride/padding/dilation (torch (H, W) -> Lava (x, y)) and flips kernels itself, so the file
    holds torch order; a per-channel bias is written per channel, a per-neuron one as netx reads it, (W, H, C)."""
    graph = conv_net(np.random.default_rng(1))
    write_netx(graph, tmp_path / "c.h5")
    got = layers(tmp_path / "c.h5")
    assert [got[str(i)]["type"][()] for i in range(5)] == [b"input", b"conv", b"conv", b"flatten", b"dense"]
    c1, c2 = got["1"], got["2"]
    assert got["0"]["shape"][()].tolist() == [2, 6, 9]
    assert c1["shape"][()].tolist() == [4, 6, 7] and c2["shape"][()].tolist() == [4, 4, 3]
    assert np.array_equal(c1["weight"][()], graph.nodes["conv1"].weight)
    assert c1["padding"][()].tolist() == [1, 0] and c2["stride"][()].tolist() == [1, 2]
    assert c2["groups"][()] == 2 and c2["dilation"][()].tolist() == [1, 1]
    assert np.array_equal(c1["bias"][()], graph.nodes["lif1"].bias_mant[:, 0, 0])
    per_neuron = graph.nodes["lif2"].bias_mant  # [C, H, W]
    assert c2["bias"].shape == (3, 4, 4)
    assert all(c2["bias"][w, h, c] == per_neuron[c, h, w] for c in range(4) for h in range(4) for w in range(3))


def test_dense_rec_stores_both_weight_matrices(tmp_path):
    graph = recurrent_net(np.random.default_rng(2))
    report = write_netx(graph, tmp_path / "r.h5")
    assert report.layers == ("input", "dense_rec", "dense")
    rec = layers(tmp_path / "r.h5")["1"]
    assert rec["type"][()] == b"dense_rec"
    assert np.array_equal(rec["weight_rec"][()], graph.nodes["rec"].weight)


def test_weight_and_bias_exponents_fold_into_netx_integers(tmp_path):
    """weight_exp 1 doubles the stored weights; weight_exp -1 on multiples of 4 halves them; bias_mant 3 at bias_exp 7
    is 3 * 128 = 6 * 64, netx's mantissa 6."""
    rng = np.random.default_rng(3)
    w1, w2 = even(rng, (6, 8), -60, 100), even(rng, (4, 6), -30, 60) * 2
    graph = sequential((8,), ("fc1", n.LoihiDense(weight=w1, weight_exp=1)),
                       ("lif1", n.LoihiLIF(du=0, dv=0, vth=50, bias_mant=3, bias_exp=7)),
                       ("fc2", n.LoihiDense(weight=w2, weight_exp=-1)), ("lif2", lif()))
    write_netx(graph, tmp_path / "e.h5")
    got = layers(tmp_path / "e.h5")
    assert np.array_equal(got["1"]["weight"][()], 2 * w1) and np.array_equal(got["2"]["weight"][()], w2 // 2)
    assert got["1"]["bias"][()].tolist() == [6] * 6
    assert got["1"]["neuron"]["iDecay"][()] == 1


def test_same_graph_same_bytes(tmp_path):
    graph = conv_net(np.random.default_rng(4))
    write_netx(graph, tmp_path / "a.h5")
    write_netx(graph, tmp_path / "b.h5")
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def spike_product_tail(rng: np.random.Generator) -> Graph:
    """A dense layer, then a SpikeMatMul of its spikes with themselves (a part netx cannot express)."""
    nodes = {"x": n.Input(type=TensorType((3, 4), Kind.BINARY)), "flat": n.Reshape(shape=(12,)),
             "fc": n.LoihiDense(weight=even(rng, (6, 12), -60, 100)), "lif": lif(),
             "tokens": n.Reshape(shape=(2, 3)), "mm": n.SpikeMatMul(transpose_b=True), "out": n.Output()}
    edges = [Edge("x", "flat"), Edge("flat", "fc"), Edge("fc", "lif"), Edge("lif", "tokens"), Edge("tokens", "mm", "a"),
             Edge("tokens", "mm", "b"), Edge("mm", "out")]
    return Graph(nodes, edges)


def test_what_netx_cannot_express_goes_to_the_extension_with_the_reason(tmp_path):
    graph = spike_product_tail(np.random.default_rng(5))
    report = write_netx(graph, tmp_path / "t.h5")
    assert report.layers == ("input", "flatten", "dense")
    assert report.extension == ("tokens", "mm", "out")
    assert report.stop == "node 'tokens': Reshape to binary[2x3]; netx's flatten layer makes vectors only"
    assert "3 node(s) in the snncompile extension" in str(report)
    with h5py.File(tmp_path / "t.h5") as f:
        assert sorted(f["snncompile/nodes"]) == ["flat", "mm", "out", "tokens"]  # flat: a Reshape, not netx's Flatten
        assert f["snncompile/nodes/mm/type"][()] == b"snncompile.SpikeMatMul"
        assert f["snncompile/format"][()] == 1
    with pytest.raises(UnsupportedError, match="netx cannot hold the whole graph .3 node.s. left.: node 'tokens'"):
        write_netx(graph, tmp_path / "u.h5", complete=True)
    assert not (tmp_path / "u.h5").exists()


@pytest.mark.parametrize(("change", "reason"), [
    ({"fc2": n.LoihiDense(weight=np.full((8, 12), 6), weight_exp=-2)}, r"weight_exp = -2\) is not an integer"),
    ({"fc2": n.LoihiDense(weight=np.full((8, 12), 200), weight_exp=1)}, r"spans \[400, 400\], beyond Loihi's 8-bit"),
    ({"fc2": n.LoihiDense(weight=np.full((8, 12), 2), message_bits=4)}, "graded input"),
    ({"lif2": n.LoihiLIF(du=0, dv=0, vth=9, bias_mant=3, bias_exp=2)}, "not a multiple of 64"),
    ({"fc2": n.LoihiDense(weight=np.zeros((8, 12)))}, "every weight is zero"),
])
def test_layers_netx_cannot_hold_end_the_chain_with_the_reason(tmp_path, change, reason):
    graph = dense_chain(np.random.default_rng(6))
    graph = graph.replace(nodes={**graph.nodes, **change})
    report = write_netx(graph, tmp_path / "x.h5")
    assert report.layers == ("input", "dense")
    assert "fc2" in report.extension
    assert re.search(reason, report.stop), report.stop


def test_a_graph_netx_holds_nothing_of_is_refused_and_nothing_is_written(tmp_path):
    graph = dense_chain(np.random.default_rng(7))
    target = tmp_path / "x.h5"
    target.write_bytes(b"old")
    real = graph.replace(nodes={**graph.nodes, "x": n.Input(type=TensorType((16,), Kind.REAL))})
    with pytest.raises(UnsupportedError, match="input 'x' carries real values; netx networks take binary spikes"):
        write_netx(real, target)
    odd = graph.replace(nodes={**graph.nodes, "fc1": n.LoihiDense(weight=np.full((12, 16), 6), weight_exp=-3)})
    with pytest.raises(UnsupportedError, match="netx can hold no synaptic layer of this graph: node 'fc1'"):
        write_netx(odd, target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.h5"]


def test_unwritable_output_is_one_line(tmp_path):
    with pytest.raises(OutputFileError, match="folder .* does not exist"):
        write_netx(dense_chain(np.random.default_rng(8)), tmp_path / "no" / "x.h5")


@pytest.mark.parametrize(("weight", "problem"), [
    ([[-128, 0], [-64, 0]], "clips or truncates"),  # all <= 0: Lava takes it as inhibitory and clips -256 to -255
    ([[-256, 254]], ""), ([[255, 0]], ""), ([[-255, -1]], ""), ([[3, -5], [7, 1]], ""), ([[-3, 0]], ""),
    ([[-2, 0]], "clips or truncates"),
    ([[300, -2]], "beyond the 8-bit weights"), ([[0, 0]], "every weight is zero"),
])
def test_dense_weight_problem_replays_netx_and_lava_arithmetic(weight, problem):
    """The cases derived by hand from optimize_weight_bits (netx) and clip/truncate_weights (lava-nc); the first is
    also run on Lava itself in tests/test_netx_lava.py."""
    got = dense_weight_problem(np.array(weight))
    assert (problem in got) if problem else got == ""
