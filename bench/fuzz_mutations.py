"""Mutated NIR files for the fuzzer (bench/fuzz_nir.py): seed files and the mutations applied to copies of them.

Seeds: the NIR files other tools wrote (tests/data: norse's LIF, sinabs' CNN, the braille RNN with and without a
subgraph) and small graphs snncompile writes itself (a dense LIF chain, a tiny Spikformer with its BatchNorm and
attention extension nodes, the braille RNN written back with its recurrence metadata), each with a two-sample data
set. Mutation kinds (``KINDS``): byte-level ``truncate`` and ``flip``; structural, with h5py on the copy,
``delete`` and ``rename`` (datasets and groups), ``dtype`` (strings, ints, bool, complex, float16, uint8), ``shape``
(transpose, added or removed axes, empty, scalar, doubled), ``huge`` (integers such as 10**12, 2**62, -1, 0 in
parameters and the Input shape), ``value`` (NaN, inf, 0, negative, 1e308 in floats; 0, -1, -3 in integers),
``edges`` (dangling endpoints, self-loops, cycles through non-neuron nodes, duplicates, unknown ports, dropped,
reversed and empty edges, malformed edge tables), ``type`` (unknown, empty, ``snncompile.`` with junk, valid but
wrong types) and ``metadata`` (junk dt, node_order, format, steps, recurrence records and node metadata).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FOREIGN = ("lif_norse", "cnn_sinabs", "braille_rnn", "braille_rnn_subgraph")  # NIR files other tools wrote
SEEDS = (*FOREIGN, "dense", "spikformer_tiny", "rnn_own")  # the order of make_seeds
KINDS = ("truncate", "flip", "delete", "rename", "dtype", "shape", "huge", "value", "edges", "type", "metadata")
DT = "1e-4"  # the time step passed for files of other tools


@dataclasses.dataclass(frozen=True)
class Seed:
    name: str
    path: Path
    data: Path  # a small .npz matching the input
    foreign: bool  # written by another tool: no dt stored, pass --dt



# -- seed files ---------------------------------------------------------------------------------------------
def make_seeds(folder: Path) -> list[Seed]:
    """The foreign test files and small graphs snncompile writes (a dense LIF chain, a tiny Spikformer with
    its BatchNorm and attention extension nodes, a recurrent graph written back by snncompile), each with a
    data set of two samples (time-varying for the recurrent ones)."""
    from snncompile.ir.nir_io import read_nir, write_nir

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    seeds = []
    for name in FOREIGN:
        seeds.append(_seed(folder, name, DATA / f"{name}.nir", read_nir(DATA / f"{name}.nir", dt=float(DT)), rng))
    own = {"dense": _dense(rng), "spikformer_tiny": _spikformer_tiny(),
           "rnn_own": read_nir(DATA / "braille_rnn.nir", dt=float(DT))}
    for name, graph in own.items():
        path = folder / f"{name}.nir"
        write_nir(graph, path)
        seeds.append(_seed(folder, name, path, graph, rng))
    return seeds


def _seed(folder: Path, name: str, path: Path, graph, rng: np.random.Generator) -> Seed:
    shape = graph.types[graph.inputs[0]].shape
    temporal = bool(graph.previous)
    x = rng.random((2, 2, *shape) if temporal else (2, *shape))
    classes = graph.types[graph.outputs[0]].shape[0]
    data = folder / f"{name}.npz"
    np.savez(data, x=x, y=rng.integers(0, classes, 2))
    return Seed(name, path, data, name in FOREIGN)


def _dense(rng: np.random.Generator):
    from snncompile.ir import Edge, Graph, TensorType
    from snncompile.ir import nodes as n

    nodes = {"input": n.Input(type=TensorType((6,))), "fc0": n.Affine(weight=rng.normal(0.5, 1, (5, 6)),
                                                                       bias=rng.normal(0, 0.1, 5)),
             "lif0": n.LIF(tau=2.0, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, fire=">=", reset="subtract"),
             "fc1": n.Linear(weight=rng.normal(0.5, 1, (3, 5))), "li": n.LI(tau=np.full(3, 2.0), r=1.0, v_leak=0.0),
             "output": n.Output()}
    names = list(nodes)
    return Graph(nodes, [Edge(a, b) for a, b in zip(names, names[1:], strict=False)], dt=1.0, metadata={"steps": 2})


def _spikformer_tiny():
    import torch

    from snncompile.frontend import trace
    from snncompile.nn.spikformer import Spikformer

    torch.manual_seed(0)
    model = Spikformer(in_channels=1, img_size=8, dim=8, depth=1, heads=2, num_classes=3).eval()
    return trace(model, (1, 8, 8), fold_bn=False, metadata={"steps": 2})


# -- mutations ----------------------------------------------------------------------------------------------
def _objects(f: h5py.File, want: type | tuple[type, ...] = (h5py.Dataset, h5py.Group)) -> list[str]:
    found: list[str] = []
    f.visititems(lambda name, obj: found.append(name) if isinstance(obj, want) else None)
    return found


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def _replace(f: h5py.File, path: str, value, dtype=None) -> None:
    del f[path]
    f.create_dataset(path, data=value, dtype=dtype)


def _numeric(f: h5py.File, kinds: str = "biuf") -> list[str]:
    return [p for p in _objects(f, h5py.Dataset) if f[p].dtype.kind in kinds]


def mutate_delete(f: h5py.File, rng: np.random.Generator) -> str:
    path = _pick(rng, _objects(f))
    del f[path]
    return f"delete /{path}"


def mutate_rename(f: h5py.File, rng: np.random.Generator) -> str:
    path = _pick(rng, _objects(f))
    parent, _, name = path.rpartition("/")
    siblings = [k for k in (f[parent] if parent else f) if k != name]
    how = int(rng.integers(3))
    if how == 0 and siblings:  # swap two siblings
        other = f"{parent}/{_pick(rng, siblings)}".lstrip("/")
        f.move(path, path + ".swap")
        f.move(other, path)
        f.move(path + ".swap", other)
        return f"swap /{path} and /{other}"
    new = f"{parent}/{_pick(rng, [name + '_x', name.upper() + 'X', '', 'a.b', name + '.input'])}".lstrip("/")
    if not new or new.endswith("/") or new in f:
        new = f"{path}_renamed"
    f.move(path, new)
    return f"rename /{path} -> /{new}"


def mutate_dtype(f: h5py.File, rng: np.random.Generator) -> str:
    path = _pick(rng, _objects(f, h5py.Dataset))
    value = f[path][()]
    arr = np.asarray(value)
    to = _pick(rng, ["string", "strings", "int", "bool", "complex", "float16", "uint8"])
    if to == "string":
        _replace(f, path, "junk" + str(arr.ravel()[:3]), h5py.string_dtype())
    elif to == "strings":
        _replace(f, path, np.array([str(v) for v in arr.ravel()] or ["x"], dtype=object), h5py.string_dtype())
    else:
        numeric = arr if arr.dtype.kind in "biufc" else np.full(arr.shape, 3)
        dtype = {"int": np.int64, "bool": np.bool_, "complex": np.complex128, "float16": np.float16,
                 "uint8": np.uint8}[to]
        with np.errstate(all="ignore"):
            _replace(f, path, np.nan_to_num(numeric).astype(dtype) if to != "complex" else numeric + 1j)
    return f"dtype /{path} -> {to}"


def mutate_shape(f: h5py.File, rng: np.random.Generator) -> str:
    path = _pick(rng, _numeric(f) or _objects(f, h5py.Dataset))
    arr = np.asarray(f[path][()])
    how = _pick(rng, ["transpose", "add-axis", "drop-axis", "empty", "scalar", "double", "ravel"])
    new = {"transpose": lambda a: a.T if a.ndim >= 2 else a[None, None],
           "add-axis": lambda a: a[None],
           "drop-axis": lambda a: a[0] if a.ndim and len(a) else a.reshape(0),
           "empty": lambda a: np.zeros((0,) + a.shape[1:], a.dtype),
           "scalar": lambda a: a.ravel()[0] if a.size else np.zeros((), a.dtype),
           "double": lambda a: np.concatenate([a, a]) if a.ndim else np.stack([a, a]),
           "ravel": lambda a: a.reshape(-1)}[how](arr)
    _replace(f, path, new, f[path].dtype if new.dtype.kind in "OSU" else None)
    return f"shape /{path} {list(arr.shape)} -> {list(np.shape(new))} ({how})"


HUGE = (10**12, 2**40, 2**62, 10**6, 10**4, -1, -(10**12), 0)


def _int_params(f: h5py.File) -> list[str]:
    """Integer datasets the reader uses (not metadata, not the shapes NIR adds and the reader ignores)."""
    ignored = ("input_shape", "input_type")
    return [p for p in _numeric(f, "iu") if "/metadata/" not in p and p.rsplit("/", 1)[-1] not in ignored
            and not (p.endswith("/shape") and _s(f[p.rsplit("/", 1)[0] + "/type"][()]) == "Output")]


def mutate_huge(f: h5py.File, rng: np.random.Generator) -> str:
    inputs = [p for p in _int_params(f) if p.endswith("/shape") and _s(f[p[:-5] + "type"][()]) == "Input"]
    if inputs and rng.random() < 0.3:  # a huge input: every later shape grows with it
        path = _pick(rng, inputs)
        arr = np.array(f[path][()], dtype=np.int64)
        arr[-min(2, arr.size):] *= int(_pick(rng, (10**3, 10**5, 10**6)))
    else:
        path = _pick(rng, (_int_params(f) if rng.random() < 0.7 else []) or _numeric(f, "iu") or _numeric(f))
        arr = np.array(f[path][()], dtype=np.int64)
        value = _pick(rng, HUGE)
        if arr.size == 0:
            arr = np.array(value, np.int64) if arr.ndim == 0 else np.array([value], np.int64)
        elif rng.random() < 0.5:
            arr.ravel()[int(rng.integers(arr.size))] = value
        else:
            arr[...] = value
    _replace(f, path, arr)
    return f"huge /{path} = {arr.ravel()[:4].tolist()}"


SPECIAL = (np.nan, np.inf, -np.inf, 0.0, -1.0, 1e308, -1e-300)


def mutate_value(f: h5py.File, rng: np.random.Generator) -> str:
    path = _pick(rng, (_int_params(f) if rng.random() < 0.3 else []) or _numeric(f, "f") or _numeric(f))
    arr = np.array(f[path][()])
    value = _pick(rng, SPECIAL)
    if arr.dtype.kind in "iu":
        value = int(_pick(rng, (0, -1, -3)))
    if arr.ndim == 0:
        arr = np.array(value, arr.dtype)
    elif arr.size and rng.random() < 0.5:
        arr.ravel()[int(rng.integers(arr.size))] = value
    else:
        arr[...] = value
    _replace(f, path, arr)
    return f"value /{path} <- {value}"


NEURON_TYPES = {"LIF", "IF", "LI", "I", "CubaLIF", "CubaLI", "Threshold", "snncompile.MaxPool2d"}


def mutate_edges(f: h5py.File, rng: np.random.Generator) -> str:
    where = _pick(rng, [p for p in _objects(f, h5py.Group) if "nodes" in f[p] and "edges" in f[p]] or ["node"])
    g = f[where]
    edges = [(_s(a), _s(b)) for a, b in np.asarray(g["edges"][()]).reshape(-1, 2)] if "edges" in g else []
    names = list(g["nodes"]) if "nodes" in g else ["x"]
    types = {k: _s(g[f"nodes/{k}/type"][()]) if "type" in g[f"nodes/{k}"] else "" for k in names}
    plain = [k for k in names if types[k] not in NEURON_TYPES | {"Input", "Output"}] or names
    how = _pick(rng, ["dangling-src", "dangling-dst", "self-loop", "cycle-no-neuron", "duplicate", "bad-port",
                      "explicit-port", "drop-one", "drop-all", "reverse", "empty-name", "three-columns", "numbers"])
    if how in ("dangling-src", "dangling-dst") and edges:
        i = int(rng.integers(len(edges)))
        edges[i] = ("ghost", edges[i][1]) if how == "dangling-src" else (edges[i][0], "ghost")
    elif how == "self-loop":
        k = _pick(rng, names)
        edges.append((k, k))
    elif how == "cycle-no-neuron":  # back from a later non-neuron node to an earlier one: a cycle without a neuron
        a, b = sorted(rng.choice(len(plain), 2)) if len(plain) > 1 else (0, 0)
        edges.append((plain[b], plain[a]))
    elif how == "duplicate" and edges:
        edges.append(_pick(rng, edges))
    elif how in ("bad-port", "explicit-port") and edges:
        i = int(rng.integers(len(edges)))
        edges[i] = (edges[i][0], edges[i][1] + (".nope" if how == "bad-port" else ".input"))
    elif how == "drop-one" and edges:
        edges.pop(int(rng.integers(len(edges))))
    elif how == "drop-all":
        edges = []
    elif how == "reverse" and edges:
        i = int(rng.integers(len(edges)))
        edges[i] = edges[i][::-1]
    elif how == "empty-name" and edges:
        edges[int(rng.integers(len(edges)))] = ("", "")
    if "edges" in g:
        del g["edges"]
    if how == "three-columns":
        g.create_dataset("edges", data=np.array([[*e, e[0]] for e in edges] or [["a", "b", "c"]], dtype=object),
                         dtype=h5py.string_dtype())
    elif how == "numbers":
        g.create_dataset("edges", data=np.arange(2 * max(len(edges), 1)).reshape(-1, 2))
    else:
        g.create_dataset("edges", data=np.array(edges, dtype=object).reshape(len(edges), 2),
                         dtype=h5py.string_dtype())
    return f"edges /{where}: {how}"


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


BAD_TYPES = ("Foo", "", "snncompile.", "snncompile.Junk", "snncompile.LIF", "NIRGraph", "lif", "LIF\u00e9",
             "snncompile.snncompile.Add", "Affine", "LIF", "snncompile.SpikeMatMul", "Input", "Output")


def mutate_type(f: h5py.File, rng: np.random.Generator) -> str:
    path = _pick(rng, [p for p in _objects(f, h5py.Dataset) if p.endswith("/type")])
    new = _pick(rng, BAD_TYPES)
    if rng.random() < 0.1:
        _replace(f, path, np.int64(7))
        return f"type /{path} = 7 (a number)"
    _replace(f, path, new, h5py.string_dtype())
    return f"type /{path} = {new!r}"


JUNK = ("abc", -1.0, np.nan, 0.0, np.inf, np.array([1.0, 2.0]), True, 10**12, np.array(["a", "b"], dtype=object))


def mutate_metadata(f: h5py.File, rng: np.random.Generator) -> str:
    keys = ["snncompile/dt", "snncompile/node_order", "snncompile/format", "steps", "snncompile/previous",
            "snncompile", "node-meta"]
    key = _pick(rng, keys)
    if key == "node-meta":
        groups = [p for p in _objects(f, h5py.Group) if p.startswith("node/nodes/") and p.count("/") == 2]
        sub = _pick(rng, ["fire", "reset", "form", "kind", "shapes/tau", "shapes/weight"])
        path = f"{_pick(rng, groups)}/metadata/snncompile/{sub}"
    else:
        path = f"node/metadata/{key}"
    if key == "snncompile/node_order" and path in f and rng.random() < 0.5:
        order = [_s(v) for v in np.asarray(f[path][()]).ravel()]
        how = int(rng.integers(3))
        order = order[:-1] if how == 0 else order + order[:1] if how == 1 else order[::-1] + ["ghost"]
        _replace(f, path, np.array(order or ["x"], dtype=object), h5py.string_dtype())
        return f"metadata /{path}: edited order"
    value = _pick(rng, JUNK)
    if path in f:
        del f[path]
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.dtype == object):
        f.create_dataset(path, data=value, dtype=h5py.string_dtype())
    else:
        f.create_dataset(path, data=value)
    return f"metadata /{path} = {value!r:.30}"


STRUCTURAL: dict[str, Callable[[h5py.File, np.random.Generator], str]] = {
    "delete": mutate_delete, "rename": mutate_rename, "dtype": mutate_dtype, "shape": mutate_shape,
    "huge": mutate_huge, "value": mutate_value, "edges": mutate_edges, "type": mutate_type,
    "metadata": mutate_metadata}


def mutate_bytes(path: Path, kind: str, rng: np.random.Generator) -> str:
    raw = bytearray(path.read_bytes())
    if kind == "truncate":
        at = int(rng.integers(len(raw)))
        path.write_bytes(raw[:at])
        return f"truncate at {at} of {len(raw)}"
    spots = []
    for _ in range(int(rng.integers(1, 9))):  # half of the flips in the first 4 KiB (superblock, headers)
        at = int(rng.integers(min(len(raw), 4096) if rng.random() < 0.5 else len(raw)))
        raw[at] ^= int(rng.integers(1, 256))
        spots.append(at)
    path.write_bytes(raw)
    return f"flip bytes at {sorted(spots)}"


def mutate(src: Path, dst: Path, kind: str, rng: np.random.Generator) -> str:
    """Copy ``src`` to ``dst`` and apply one mutation of ``kind``; a description of what changed."""
    shutil.copyfile(src, dst)
    if kind in ("truncate", "flip"):
        return mutate_bytes(dst, kind, rng)
    with h5py.File(dst, "r+") as f:
        return STRUCTURAL[kind](f, rng)
