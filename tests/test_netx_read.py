"""netx HDF5 importer (targets/snncompile_lava/netx_read.py): netx_write's files read back as the same graph, files as
lava-dl's SLAYER writes them (built here with h5py from SLAYER's ``export_hdf5``, independently of netx_write) read as
netx 0.6.0 reads them, and bad files refused in one line naming the file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from snncompile_lava.netx_read import read_netx
from snncompile_lava.netx_write import write_netx

from snncompile.errors import InputFileError, SnnError, UnsupportedError
from snncompile.ir import Edge, Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import read_nir, write_nir
from tests.test_netx_write import conv_net, dense_chain, even, recurrent_net, sequential, spike_product_tail


def exponents(rng: np.random.Generator) -> Graph:
    """Nodes whose exact form /layer cannot say (weight_exp != 0, bias_exp != 6, a Reshape as netx's flatten)."""
    return sequential((2, 4), ("flat", n.Reshape(shape=(8,))),
                      ("fc1", n.LoihiDense(weight=even(rng, (6, 8), -60, 100), weight_exp=1)),
                      ("lif1", n.LoihiLIF(du=0, dv=0, vth=50, bias_mant=np.arange(6) * 2, bias_exp=5)),
                      ("fc2", n.LoihiDense(weight=even(rng, (4, 6), -30, 60) * 2, weight_exp=-1)),
                      ("lif2", n.LoihiLIF(du=7, dv=9, vth=40, bias_mant=0, bias_exp=0)))


def previous_first(rng: np.random.Generator) -> Graph:
    return recurrent_net(rng, previous_first=True)


@pytest.mark.parametrize("build", [dense_chain, conv_net, recurrent_net, previous_first, spike_product_tail,
                                   exponents])
def test_write_then_read_gives_the_same_graph(tmp_path, build):
    graph = build(np.random.default_rng(20))
    graph = graph.replace(metadata={"source": "test", "steps": 4}, dt=0.5)
    write_netx(graph, tmp_path / "a.h5")
    back = read_netx(tmp_path / "a.h5")
    assert back == graph
    write_netx(back, tmp_path / "b.h5")
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def slayer_file(path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A conv -> flatten -> dense -> dense_rec CUBA network in the layout SLAYER's ``export_hdf5`` writes
    (lava.lib.dl.slayer.block.base): ``type`` as a 1-element S10 array, float32 weights (even integers after
    SLAYER's 8-bit quantization, step 2; one matrix with odd ones, as another tool may write), per-channel conv bias,
    ``inFeatures`` and the like, neuron parameters as ``Neuron.device_params`` gives them (``type`` a variable-length
    string)."""
    w = {"conv": rng.integers(-15, 20, (3, 2, 3, 3)).astype(np.float32) * 2, "bias": np.array([40, -20, 0], np.float32),
         "dense": rng.integers(-40, 50, (6, 3 * 4 * 5)).astype(np.float32) * 2,
         "rec_in": rng.integers(-40, 60, (4, 6)).astype(np.float32), "rec": rng.integers(-50, 30, (4, 4)) * 2.0}
    neurons = [(1024, 256, 80), (4096, 1024, 100), (2048, 512, 90)]
    with h5py.File(path, "w") as f:
        def kind(g, name):
            g.create_dataset("type", (1,), "S10", [name.encode("ascii")])

        def neuron(g, i_decay, v_decay, vth):
            for key, value in {"type": "CUBA", "iDecay": i_decay, "vDecay": v_decay, "vThMant": vth, "refDelay": 1,
                               "gradedSpike": False}.items():
                g.create_dataset(f"neuron/{key}", data=value)

        layer = f.create_group("layer")
        g = layer.create_group("0")
        kind(g, "input")
        g.create_dataset("shape", data=np.array([2, 6, 5]))
        g = layer.create_group("1")
        kind(g, "conv")
        for key, value in {"shape": [3, 4, 5], "inChannels": 2, "outChannels": 3, "kernelSize": [3, 3],
                           "stride": [1, 1], "padding": [0, 1], "dilation": [1, 1], "groups": 1,
                           "weight": w["conv"], "bias": w["bias"]}.items():
            g.create_dataset(key, data=value)
        neuron(g, *neurons[0])
        g = layer.create_group("2")
        kind(g, "flatten")
        g.create_dataset("shape", data=np.array([60]))
        g = layer.create_group("3")
        kind(g, "dense")
        for key, value in {"shape": [6], "inFeatures": 60, "outFeatures": 6, "weight": w["dense"]}.items():
            g.create_dataset(key, data=value)
        neuron(g, *neurons[1])
        g = layer.create_group("4")
        kind(g, "dense_rec")
        for key, value in {"shape": [4], "inFeatures": 6, "outFeatures": 4, "weight": w["rec_in"],
                           "weight_rec": w["rec"]}.items():
            g.create_dataset(key, data=value)
        neuron(g, *neurons[2])
    return w


def test_a_file_as_slayer_writes_it_reads_as_netx_runs_it(tmp_path):
    """Expected nodes derived from netx 0.6.0's reader: du = iDecay - 1, dv = vDecay, vth = vThMant, bias_mant = bias
    with bias_exp 6 (per channel here), weights as integers; odd weights (Lava's Dense keeps them, the IR keeps even
    ones) doubled with weight_exp -1."""
    w = slayer_file(tmp_path / "s.h5", np.random.default_rng(21))
    got = read_netx(tmp_path / "s.h5")

    def synapse(cls, weight, **kw):
        odd = bool(np.any(weight % 2))
        return cls(weight=weight * (2 if odd else 1), weight_exp=-1 if odd else 0, **kw)

    nodes = {"input": n.Input(type=TensorType((2, 6, 5), Kind.BINARY)),
             "layer1_synapse": synapse(n.LoihiConv2d, w["conv"], padding=(0, 1)),
             "layer1_neuron": n.LoihiLIF(du=1023, dv=256, vth=80, bias_mant=w["bias"].reshape(3, 1, 1), bias_exp=6),
             "layer2_flatten": n.Flatten(start_dim=0, end_dim=-1),
             "layer3_synapse": synapse(n.LoihiDense, w["dense"]),
             "layer3_neuron": n.LoihiLIF(du=4095, dv=1024, vth=100, bias_mant=0, bias_exp=6),
             "layer4_synapse": synapse(n.LoihiDense, w["rec_in"]),
             "layer4_neuron": n.LoihiLIF(du=2047, dv=512, vth=90, bias_mant=0, bias_exp=6),
             "layer4_recurrent": synapse(n.LoihiDense, w["rec"]),
             "layer4_previous": n.Previous(type=TensorType((4,), Kind.REAL)),
             "output": n.Output()}
    edges = [Edge("input", "layer1_synapse"), Edge("layer1_synapse", "layer1_neuron"),
             Edge("layer1_neuron", "layer2_flatten"), Edge("layer2_flatten", "layer3_synapse"),
             Edge("layer3_synapse", "layer3_neuron"), Edge("layer3_neuron", "layer4_synapse"),
             Edge("layer4_synapse", "layer4_neuron"), Edge("layer4_previous", "layer4_neuron"),
             Edge("layer4_neuron", "layer4_recurrent"), Edge("layer4_recurrent", "layer4_previous"),
             Edge("layer4_neuron", "output")]
    assert got == Graph(nodes, edges, metadata={"source": "s.h5"})
    assert got.nodes["layer4_synapse"].weight_exp == -1 and got.nodes["layer3_synapse"].weight_exp == 0


def test_imported_graph_goes_through_nir(tmp_path):
    """What ``snncompile import FILE.h5 -o model.nir`` does: read netx, write NIR, which reads back equal."""
    slayer_file(tmp_path / "s.h5", np.random.default_rng(22))
    graph = read_netx(tmp_path / "s.h5")
    write_nir(graph, tmp_path / "m.nir")
    assert read_nir(tmp_path / "m.nir") == graph


def test_dense_first_and_an_input_without_flatten(tmp_path):
    """No input layer: the input is the first dense layer's width; a [C, H, W] input layer before a dense layer is fed
    flat and row-major (what SLAYER's Dense does to NCHW input), so the reader adds a Flatten."""
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["layer/0/type"], f["layer/0/shape"], f["layer/0/weight"] = np.bytes_("dense"), [3], np.full((3, 5), 4.0)
        for key, value in {"type": np.bytes_("CUBA"), "iDecay": 1, "vDecay": 0, "vThMant": 10}.items():
            f[f"layer/0/neuron/{key}"] = value
    graph = read_netx(tmp_path / "d.h5")
    assert graph.nodes["input"] == n.Input(type=TensorType((5,), Kind.BINARY))
    assert graph.nodes["layer0_neuron"] == n.LoihiLIF(du=0, dv=0, vth=10, bias_mant=0, bias_exp=6)
    with h5py.File(tmp_path / "d.h5", "a") as f:
        f["layer/1"] = f["layer/0"]
        del f["layer/0"]
        f["layer/0/type"], f["layer/0/shape"] = np.bytes_("input"), [1, 1, 5]
    graph = read_netx(tmp_path / "d.h5")
    assert list(graph.nodes)[:3] == ["input", "input_flatten", "layer1_synapse"]
    assert graph.types["input_flatten"].shape == (5,)


def test_non_integer_weights_are_truncated_as_netx_does_with_a_warning(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["layer/0/type"], f["layer/0/shape"], f["layer/0/weight"] = np.bytes_("dense"), [1], [[2.7, -4.5]]
        for key, value in {"type": np.bytes_("CUBA"), "iDecay": 1, "vDecay": 0, "vThMant": 10}.items():
            f[f"layer/0/neuron/{key}"] = value
    with pytest.warns(UserWarning, match="layer 0 'weight' holds non-integers; read as netx does, truncated"):
        graph = read_netx(tmp_path / "f.h5")
    assert graph.nodes["layer0_synapse"].weight.tolist() == [[2, -4]]


def edit(path, change) -> None:
    with h5py.File(path, "a") as f:
        change(f)


def replace(key, value):
    def change(f):
        del f[key]
        f[key] = value
    return change


BAD = [
    (lambda f: f.__delitem__("layer"), InputFileError, "no /layer group: not a netx HDF5 file"),
    (replace("layer/1/type", np.bytes_("pool")), UnsupportedError, "layer 1: type 'pool' is not supported"),
    (replace("layer/1/neuron/type", np.bytes_("SDNN")), UnsupportedError, "neuron type 'SDNN' is not supported"),
    (lambda f: f.create_dataset("layer/1/delay", data=np.ones(12)), UnsupportedError, "synaptic delays"),
    (lambda f: f.create_dataset("layer/0/neuron/type", data="CUBA"), UnsupportedError, "input layer with a neuron"),
    (replace("layer/2/neuron/iDecay", 0), UnsupportedError, "iDecay = 0 gives du = -1"),
    (replace("layer/2/neuron/vThMant", np.arange(8)), UnsupportedError, "vThMant holds 8 values"),
    (replace("layer/2/neuron/gradedSpike", True), UnsupportedError, "gradedSpike is true"),
    (replace("layer/2/weight", np.zeros((8, 13))), InputFileError, "does not match weight"),
    (lambda f: f.__delitem__("layer/3/weight"), InputFileError, r"layer 3 \(dense\) lacks 'weight'"),
    (replace("snncompile/format", 2), UnsupportedError, "/snncompile has layout format 2"),
    (lambda f: f.__delitem__("layer/2"), InputFileError, "/layer must hold groups 0 ... N-1"),
    (lambda f: f.move("layer/2/weight", "layer/2/real") or f.move("layer/2/real", "layer/2/weight/real"),
     UnsupportedError, "complex weights"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_files_are_one_line_naming_the_file(tmp_path, change, error, message):
    path = tmp_path / "bad.h5"
    write_netx(dense_chain(np.random.default_rng(23)), path)
    edit(path, change)
    with pytest.raises(error, match=message) as info:
        read_netx(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_layer_is_the_truth_and_the_extension_must_agree_with_it(tmp_path):
    """/layer holds the values: an edited weight of a layer the extension has no record of is read as edited; where
    the extension records a node's exact form (weight_exp 1 here) and /layer no longer says the same, the file is
    refused."""
    path = tmp_path / "e.h5"
    write_netx(dense_chain(np.random.default_rng(26)), path)
    edit(path, replace("layer/2/neuron/vThMant", 33))
    assert read_netx(path).nodes["lif2"].vth == 33
    write_netx(exponents(np.random.default_rng(26)), path)
    edit(path, replace("layer/2/weight", np.full((6, 8), 4)))
    with pytest.raises(InputFileError, match="/layer and /snncompile disagree"):
        read_netx(path)


def test_lava_dl_layouts_netx_cannot_connect_are_refused(tmp_path):
    path = tmp_path / "s.h5"
    slayer_file(path, np.random.default_rng(24))
    edit(path, lambda f: f.__delitem__("layer/2"))
    edit(path, lambda f: f.move("layer/3", "layer/2") or f.move("layer/4", "layer/3"))
    edit(path, replace("layer/1/weight", np.ones((3, 2, 3, 3))))
    with pytest.raises(UnsupportedError, match="layer 1: conv weights must be even"):
        read_netx(path)
    edit(path, replace("layer/1/weight", np.zeros((3, 2, 3, 3))))
    with pytest.raises(UnsupportedError, match="layer 2 .dense. follows a conv layer without a flatten layer"):
        read_netx(path)
    edit(path, lambda f: f.__delitem__("layer/0"))
    edit(path, lambda f: [f.move(f"layer/{i}", f"layer/{i - 1}") for i in (1, 2, 3)])
    with pytest.raises(UnsupportedError, match="layer 0 is a conv layer and there is no input layer"):
        read_netx(path)


@pytest.mark.parametrize(("content", "message"), [(b"not hdf5", "not an HDF5 file"), (None, "no such file")])
def test_missing_and_foreign_files(tmp_path, content, message):
    path = tmp_path / "x.h5"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        read_netx(path)


def test_truncated_file_is_one_line(tmp_path):
    path = tmp_path / "t.h5"
    write_netx(conv_net(np.random.default_rng(25)), path)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(SnnError) as info:
        read_netx(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
