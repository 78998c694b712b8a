"""NIR import/export: lossless round trip, stock-nir compatibility, determinism, foreign files, bad input."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from snncompile.errors import InputFileError, IRError, OutputFileError, SnnError, UnsupportedError
from snncompile.ir import OPS, Edge, Graph, Kind, TensorType, nir_io
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import read_nir, write_nir

DATA = Path(__file__).parent / "data"
rng = np.random.default_rng(0)


def w(*shape: int) -> np.ndarray:
    return rng.normal(size=shape)


def every_node_graph() -> Graph:
    """Every node class, scalar and broadcast parameters, dotted names, multi-port and duplicate edges, a cycle."""
    nodes = {
        "x": n.Input(type=TensorType((2, 6, 6), Kind.REAL)),
        "s": n.Input(type=TensorType((5,), Kind.BINARY)),
        "conv": n.Conv2d(weight=w(4, 2, 3, 3), bias=w(4), padding=(1, 1)),
        "bn": n.BatchNorm(mean=w(4), var=np.abs(w(4)), weight=w(4), bias=w(4), eps=1e-3),
        "lif": n.LIF(tau=2.0, r=w(4, 1, 1), v_leak=0.0, v_threshold=1.0, v_reset=0.0, fire=">=",
                     reset="subtract"),
        "mp": n.MaxPool2d(kernel_size=(2, 2), stride=(2, 2)),
        "sp": n.SumPool2d(kernel_size=(2, 2), stride=(2, 2)),
        "ap": n.AvgPool2d(kernel_size=(2, 2), stride=(2, 2)),
        "add": n.Add(),
        "if": n.IF(r=1.0, v_threshold=w(4, 3, 3), v_reset=0.5),
        "scale": n.Scale(scale=0.5),
        "thr": n.Threshold(threshold=0.1, fire=">="),
        "flat": n.Flatten(start_dim=1),
        "reshape": n.Reshape(shape=(4, 9)),
        "tr": n.Transpose(perm=(1, 0)),
        "mm": n.SpikeMatMul(transpose_b=True),
        "blocks.0.attn": n.SpikingSelfAttention(heads=3, scale=0.125),
        "lin": n.Linear(weight=w(5, 9)),
        "mean": n.Mean(axis=0),
        "li": n.LI(tau=w(5) ** 2 + 1, r=1.0, v_leak=0.0),
        "cli": n.CubaLI(tau_syn=2.0, tau_mem=3.0, r=1.0, v_leak=0.0, w_in=w(5)),
        "clif": n.CubaLIF(tau_syn=2.0, tau_mem=3.0, r=1.0, v_leak=0.0, v_threshold=0.5, v_reset=0.0,
                          w_in=1.0),
        "i": n.I(r=w(5)),
        "delay": n.Delay(delay=np.array([0.0, 1.0, 2.0, 0.0, 1.0])),
        "aff": n.Affine(weight=w(3, 5), bias=w(3)),
        "c1": n.Conv1d(weight=w(2, 4, 3), bias=w(2), padding=1, stride=1),
        "dxs": n.Input(type=TensorType((2, 3, 3), Kind.BINARY)),
        "dattn": n.Input(type=TensorType((2, 36, 9), Kind.BINARY)),
        "dscore": n.DSSAScore(heads=2, scale=w(2)), "dagg": n.DSSAAggregate(heads=2, scale=w(2)),
        "dout1": n.Output(), "dout2": n.Output(),
        "tx": n.Input(type=TensorType((4, 3), Kind.GRADED)), "tscore": n.TokenHaltingScore(gamma=10.0, beta=3.0),
        "thalt": n.TokenHalting(threshold=0.99), "tmask": n.TokenMask(), "tout": n.Output(),
        "tmerge": n.TokenMerge(r=2, similarity="dot", result="flags"), "tout2": n.Output(),
        "smask": n.StaticTokenMask(mask=np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])),
        "smasked": n.TokenMask(), "sout": n.Output(),
        "ssel": n.TokenSelect(index=(0, 2, 3)), "sscat": n.TokenScatter(index=(0, 2, 3), size=4), "sout2": n.Output(),
        "fws": n.Input(type=TensorType((4, 3), Kind.GRADED)), "fwout1": n.Output(), "fwout2": n.Output(),
        "fourier": n.FourierMixer(token_basis=w(1, 4, 4), weights=w(1)),
        "wavelet": n.WaveletMixer(token_basis=w(2, 4, 4), channel_basis=w(2, 3, 3), weights=w(2)),
        "qx": n.Input(type=TensorType((4, 6), Kind.BINARY)), "qm": n.Input(type=TensorType((4, 2), Kind.BINARY)),
        "qhead": n.HeadSum(heads=2), "qtok": n.TokenSum(), "qmask": n.SpikeMask(),
        "qout1": n.Output(), "qout2": n.Output(), "qout3": n.Output(),
        "rec": n.Affine(weight=w(5, 5), bias=w(5)), "rec.prev": n.Previous(type=TensorType((5,), Kind.REAL)),
        "slice": n.Slice(axis=1, start=2, stop=5), "cat": n.Concat(axis=-1), "sum": n.Sum(axis=0), "cout": n.Output(),
        "out": n.Output(), "out2": n.Output(), "out3": n.Output(), "out4": n.Output(),
        "lx": n.Input(type=TensorType((1, 4, 4))), "lenc": n.LoihiEncode(scale=128.0, limit=255),
        "lconv": n.LoihiConv2d(weight=2 * rng.integers(-127, 128, (2, 1, 3, 3)), padding=(1, 1), message_bits=8),
        "llif": n.LoihiLIF(du=4095, dv=2048, vth=100, bias_mant=np.array([[[3]], [[-5]]]), bias_exp=2),
        "lflat": n.Flatten(start_dim=0), "ldense": n.LoihiDense(weight=2 * rng.integers(-127, 128, (3, 32)),
                                                                weight_exp=-2),
        "llif2": n.LoihiLIF(du=100, dv=10, vth=131071, bias_mant=0, bias_exp=0), "lout": n.Output(),
    }
    chain = [("x", "conv"), ("conv", "bn"), ("bn", "lif"), ("lif", "mp"), ("lif", "sp"), ("lif", "ap"),
             ("mp", "add"), ("sp", "add"), ("sp", "add"), ("add", "if"), ("ap", "scale"), ("scale", "thr"),
             ("if", "flat"), ("thr", "reshape"), ("reshape", "tr"), ("lin", "mean"), ("mean", "li"),
             ("s", "li"),
             ("li", "cli"), ("cli", "clif"), ("clif", "i"), ("i", "delay"), ("delay", "aff"), ("aff", "out"),
             ("mm", "c1"), ("c1", "out2"), ("clif", "out3"), ("blocks.0.attn", "lin"), ("tr", "out4"),
             ("clif", "rec"), ("rec", "rec.prev"), ("rec.prev", "cli"),  # recurrence: cli -> clif -> rec -> cli
             ("lx", "lenc"), ("lenc", "lconv"), ("lconv", "llif"), ("llif", "lflat"), ("lflat", "ldense"),
             ("ldense", "llif2"), ("llif2", "lout")]
    ports = [Edge("conv", "dscore", "y"), Edge("dxs", "dscore", "x"), Edge("conv", "dagg", "y"),
             Edge("dattn", "dagg", "attn"), Edge("dscore", "dout1"), Edge("dagg", "dout2")]
    ports += [Edge("tx", "tscore", "score"), Edge("tscore", "thalt"), Edge("tx", "tmask"),
              Edge("thalt", "tmask", "mask"), Edge("tmask", "tmerge"), Edge("thalt", "tmerge", "mask"),
              Edge("tmerge", "tout2"), Edge("tmask", "tout")]
    ports += [Edge("tx", "smask"), Edge("tx", "smasked"), Edge("smask", "smasked", "mask"), Edge("smasked", "sout")]
    ports += [Edge("tx", "ssel"), Edge("ssel", "sscat"), Edge("sscat", "sout2")]
    ports += [Edge("flat", "mm", "a"), Edge("reshape", "mm", "b"), Edge("flat", "blocks.0.attn", "q"),
              Edge("reshape", "blocks.0.attn", "k"), Edge("flat", "blocks.0.attn", "v")]
    ports += [Edge("fws", "fourier"), Edge("fws", "wavelet"), Edge("fourier", "fwout1"), Edge("wavelet", "fwout2")]
    ports += [Edge("qx", "qhead"), Edge("qx", "qtok"), Edge("qm", "qmask", "mask"), Edge("qx", "qmask"),
              Edge("qhead", "qout1"), Edge("qtok", "qout2"), Edge("qmask", "qout3")]
    ports += [Edge("qx", "slice"), Edge("slice", "cat", "a"), Edge("qx", "cat", "b"), Edge("cat", "sum"),
              Edge("sum", "cout")]
    meta = {"model": "t", "info": {"n": 3}}
    return Graph(nodes, [Edge(a, b) for a, b in chain] + ports, dt=0.5, metadata=meta)


def primitive_graph() -> Graph:
    """Standard NIR primitives only, shapes NIR can express (Affine/Linear on vectors, no grouped conv)."""
    nodes = {
        "x": n.Input(type=TensorType((2, 8, 8))),
        "conv": n.Conv2d(weight=w(4, 2, 3, 3), bias=w(4), stride=(2, 2), padding=(1, 1)),
        "if": n.IF(r=1.0, v_threshold=w(4, 1, 1), v_reset=0.0, reset="subtract"),
        "pool": n.SumPool2d(kernel_size=(2, 2), stride=(2, 2)),
        "avg": n.AvgPool2d(kernel_size=(2, 2), stride=(2, 2)),
        "flat": n.Flatten(),
        "aff": n.Affine(weight=w(6, 16), bias=w(6)),
        "lif": n.LIF(tau=2e-3, r=1.0, v_leak=0.0, v_threshold=0.1, v_reset=0.0, fire=">="),
        "lin": n.Linear(weight=w(3, 6)),
        "li": n.LI(tau=1e-3, r=w(3), v_leak=0.0),
        "scale": n.Scale(scale=w(3)),
        "thr": n.Threshold(threshold=0.2),
        "delay": n.Delay(delay=1.0),
        "cli": n.CubaLI(tau_syn=1e-3, tau_mem=2e-3, r=1.0, v_leak=0.0, w_in=1.0),
        "y": n.Input(type=TensorType((2, 10), Kind.BINARY)),
        "c1": n.Conv1d(weight=w(3, 2, 3), bias=w(3), dilation=2),
        "flat1": n.Flatten(start_dim=0, end_dim=1),
        "clif": n.CubaLIF(tau_syn=1e-3, tau_mem=2e-3, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0,
                          w_in=1.0),
        "int": n.I(r=1.0),
        "out": n.Output(), "out2": n.Output(), "out3": n.Output(),
    }
    chain = ["x", "conv", "if", "pool", "flat", "aff", "lif", "lin", "li", "scale", "thr", "delay", "cli",
             "out"]
    edges = [Edge(a, b) for a, b in zip(chain, chain[1:], strict=False)]
    edges += [Edge("y", "c1"), Edge("c1", "flat1"), Edge("flat1", "clif"), Edge("clif", "int"),
              Edge("int", "out2"), Edge("if", "avg"), Edge("avg", "out3")]
    return Graph(nodes, edges, dt=1e-4)


def one_line_error(exc: pytest.ExceptionInfo, *names: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    for name in names:
        assert name in msg, (name, msg)


# -- round trip --------------------------------------------------------------------------------------------
def test_every_node_class_round_trips(tmp_path: Path) -> None:
    g = every_node_graph()
    assert {node.op for node in g.nodes.values()} == set(OPS), "add new node classes to every_node_graph"
    write_nir(g, tmp_path / "g.nir")
    back = read_nir(tmp_path / "g.nir")
    assert back == g
    assert dict(back.types) == dict(g.types)
    assert back.dt == 0.5 and back.nodes["lif"].tau.shape == () and back.nodes["lif"].r.shape == (4, 1, 1)
    assert back.metadata["model"] == "t" and back.metadata["info"] == {"n": 3}
    assert read_nir(tmp_path / "g.nir", dt=2.0).dt == 2.0
    with h5py.File(tmp_path / "g.nir") as f:
        assert f["node/nodes/mm/type"][()] == b"snncompile.SpikeMatMul"
        assert [b"flat", b"blocks.0.attn.q"] in f["node/edges"][()].tolist()


def test_primitive_graph_loads_with_stock_nir(tmp_path: Path) -> None:
    g = primitive_graph()
    write_nir(g, tmp_path / "p.nir")
    assert read_nir(tmp_path / "p.nir") == g
    stock = nir.read(tmp_path / "p.nir")  # type-checks shapes along every edge
    assert set(stock.nodes) == set(g.nodes)
    assert sorted(stock.edges) == sorted((e.src, e.dst) for e in g.edges)
    for name, node in g.nodes.items():
        theirs = stock.nodes[name]
        assert type(theirs).__name__ == node.op
        shape = g.port_types(name).get("input", g.types[name]).shape
        for f in dataclasses.fields(node):
            if f.name in ("fire", "reset", "form", "type"):
                continue
            ours = getattr(node, f.name)
            per_neuron = f.name in node.arrays and f.name not in ("weight", "bias")
            expect = np.broadcast_to(ours, shape) if per_neuron else np.asarray(ours)
            assert np.array_equal(np.asarray(getattr(theirs, f.name)), expect), (name, f.name)
        if node.op not in ("Input", "SumPool2d", "AvgPool2d"):
            assert list(theirs.input_type["input"]) == list(shape), name
    assert list(stock.nodes["flat"].output_type["output"]) == [16]
    assert list(stock.nodes["x"].output_type["output"]) == [2, 8, 8]
    assert stock.nodes["lif"].metadata["snncompile"]["fire"] == ">="
    assert stock.nodes["if"].metadata["snncompile"]["reset"] == "subtract"


def test_same_graph_gives_same_bytes(tmp_path: Path) -> None:
    g = every_node_graph()
    write_nir(g, tmp_path / "a.nir")
    time.sleep(1.05)  # HDF5 timestamps have one-second resolution
    write_nir(g, tmp_path / "b.nir")
    assert (tmp_path / "a.nir").read_bytes() == (tmp_path / "b.nir").read_bytes()
    write_nir(g, tmp_path / "a.nir")  # overwriting works and leaves no temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nir", "b.nir"]


# -- foreign files -----------------------------------------------------------------------------------------
def test_lif_norse_imports_as_stored() -> None:
    g = read_nir(DATA / "lif_norse.nir", dt=1e-4)
    assert [g.nodes[k].op for k in ("input", "0", "1", "output")] == ["Input", "Affine", "LIF", "Output"]
    lif = g.nodes["1"]
    assert lif.tau == np.float32(2.5e-3) and lif.r == 1 and lif.v_threshold == np.float32(0.1)
    assert lif.v_leak == 0 and lif.v_reset == 0 and lif.fire == ">" and lif.reset == "hard"
    assert g.dt == 1e-4 and g.types["output"] == TensorType((1,), Kind.BINARY)


def test_cnn_sinabs_imports() -> None:
    g = read_nir(DATA / "cnn_sinabs.nir", dt=1e-3)
    assert g.nodes["input"].type == TensorType((2, 34, 34))
    assert g.types["output"].shape == (10,)
    assert [g.nodes[str(i)].op for i in range(13)] == [
        "Conv2d", "IF", "Conv2d", "IF", "SumPool2d", "Conv2d", "IF", "SumPool2d", "Flatten", "Affine", "IF",
        "Affine", "IF"]
    assert g.types["8"].shape == (128,) and g.nodes["0"].stride == (2, 2)
    assert list(g.nodes)[:3] == ["input", "0", "1"] and list(g.nodes)[-2:] == ["12", "output"]


def test_foreign_file_needs_dt() -> None:
    with pytest.raises(InputFileError) as exc:
        read_nir(DATA / "lif_norse.nir")
    path = DATA / "lif_norse.nir"
    assert str(exc.value) == f"{path}: NIR files store no time step; pass dt (e.g. --dt 1e-4)"


def test_nested_graph_is_flattened(tmp_path: Path) -> None:
    lif = nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3))
    sub = nir.NIRGraph(nodes={"in": nir.Input(np.array([3])), "lif": lif, "out": nir.Output(np.array([3]))},
                       edges=[("in", "lif"), ("lif", "out")], type_check=False)
    top = nir.NIRGraph(nodes={"x": nir.Input(np.array([3])), "sub": sub, "y": nir.Output(np.array([3]))},
                       edges=[("x", "sub"), ("sub.out", "y")], type_check=False)
    nir.write(tmp_path / "nested.nir", top)
    g = read_nir(tmp_path / "nested.nir", dt=1.0)
    assert sorted(g.nodes) == ["sub.lif", "x", "y"]
    assert sorted(g.edges, key=str) == [Edge("sub.lif", "y"), Edge("x", "sub.lif")]


@pytest.mark.parametrize(("mode", "pads"), [("same", (1, 1)), ("valid", (0, 0))])
def test_named_conv_padding(tmp_path: Path, mode: str, pads: tuple[int, int]) -> None:
    conv = nir.Conv2d(input_shape=(5, 5), weight=np.ones((2, 1, 3, 3)), stride=1, padding=mode, dilation=1,
                      groups=1, bias=np.zeros(2))
    nir.write(tmp_path / "c.nir", nir.NIRGraph.from_list(nir.Input(np.array([1, 5, 5])), conv))
    g = read_nir(tmp_path / "c.nir", dt=1.0)
    assert g.nodes["conv2d"].padding == pads


# -- bad input ---------------------------------------------------------------------------------------------
def _edited(tmp_path: Path, edit) -> Path:
    path = tmp_path / "edited.nir"
    write_nir(primitive_graph(), path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _unknown_type(f: h5py.File) -> None:
    del f["node/nodes/lif/type"]
    f["node/nodes/lif/type"] = "Quantum"


def _nan_weight(f: h5py.File) -> None:
    f["node/nodes/aff/weight"][0, 0] = np.nan


def _missing_tau(f: h5py.File) -> None:
    del f["node/nodes/lif/tau"]


def _dangling_edge(f: h5py.File) -> None:
    f["node/edges"][0] = ["x", "ghost"]


@pytest.mark.parametrize(("edit", "error", "names"), [
    (_unknown_type, UnsupportedError, ["'lif'", "Quantum", "supported: ", "snncompile.SpikeMatMul"]),
    (_nan_weight, IRError, ["'aff'", "NaN"]),
    (_missing_tau, InputFileError, ["'lif'", "'tau'"]),
    (_dangling_edge, InputFileError, ["'ghost'"]),
])
def test_bad_content_names_file_and_node(tmp_path: Path, edit, error: type, names: list[str]) -> None:
    path = _edited(tmp_path, edit)
    with pytest.raises(error) as exc:
        read_nir(path)
    one_line_error(exc, str(path), *names)


def _truncated(tmp_path: Path) -> Path:
    path = tmp_path / "cut.nir"
    path.write_bytes((DATA / "cnn_sinabs.nir").read_bytes()[:1000])
    return path


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "text.nir"
    path.write_text("this is not HDF5\n")
    return path


def _not_nir(tmp_path: Path) -> Path:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros(3)
    return path


@pytest.mark.parametrize("make", [lambda p: p / "missing.nir", _truncated, _text, _not_nir, lambda p: p])
def test_unreadable_files_raise_input_file_error(tmp_path: Path, make) -> None:
    path = make(tmp_path)
    with pytest.raises(SnnError) as exc:
        read_nir(path, dt=1.0)
    assert type(exc.value) is InputFileError
    one_line_error(exc, str(path))


def test_unwritable_graph_leaves_no_file(tmp_path: Path) -> None:
    g = every_node_graph()
    bad = g.with_node("blocks.0.attn", n.SpikingSelfAttention(heads=3, scale=object()))  # type: ignore[arg-type]
    with pytest.raises(UnsupportedError) as exc:
        write_nir(bad, tmp_path / "g.nir")
    one_line_error(exc, "blocks.0.attn", "scale")
    slash = Graph({k.replace("lif", "a/b"): v for k, v in g.nodes.items()},
                  [Edge(e.src.replace("lif", "a/b"), e.dst.replace("lif", "a/b"), e.port) for e in g.edges])
    with pytest.raises(UnsupportedError, match="a/b"):
        write_nir(slash, tmp_path / "g.nir")
    clash = g.with_node("mm.a", n.Output())
    clash = clash.replace(edges=[*clash.edges, Edge("flat", "mm.a")])
    with pytest.raises(UnsupportedError, match="mm.a"):
        write_nir(clash, tmp_path / "g.nir")
    assert list(tmp_path.iterdir()) == []


def test_failing_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "g.nir"
    target.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(nir_io, "write_tree", boom)
    with pytest.raises(OutputFileError, match="g.nir: cannot write .disk full"):
        write_nir(primitive_graph(), target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["g.nir"]
    target.unlink()
    with pytest.raises(OutputFileError):
        write_nir(primitive_graph(), target)
    assert list(tmp_path.iterdir()) == []

