"""Read netx HDF5 (as lava-dl's SLAYER ``export_hdf5`` or ``netx_write`` writes it) into a fixed-point IR graph.

The graph computes what lava-dl's ``netx.hdf5.Network`` (0.6.0) runs on Lava: the input, flatten, dense, dense_rec
and conv layers with CUBA neurons become ``LoihiDense``/``LoihiConv2d`` -> ``LoihiLIF`` (a dense_rec layer adds
``LoihiDense`` -> ``Previous`` back into its neuron), read the way netx reads them (weights and bias ``astype(int)``,
``du = iDecay - 1``, ``bias_exp = 6``). The nodes are the fixed-point ones because they say exactly what the file
says; a float view would round (docs/netx.md, "Reading lava-dl's files"). Per-step semantics: netx's one step of
latency per layer is Lava's, not the graph's (docs/netx.md, "Timing").

A file with netx_write's ``/snncompile`` group reads back as the graph that was written; the group must agree with
``/layer`` (the chain netx_write would write from the graph equals the stored layers) or the file is refused.
What netx cannot run, or runs other than the file suggests, is refused with the reason: pooling and other layer
types netx 0.6.0 does not implement, SDNN and other neurons, delays, graded spikes, complex weights, per-neuron decays.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snncompile.errors import InputFileError, IRError, UnsupportedError, one_line
from snncompile.files import check_input
from snncompile.ir.graph import Edge, Graph
from snncompile.ir.nir_convert import NAMESPACE, from_record
from snncompile.ir.nir_guard import read_file
from snncompile.ir.nir_hdf5 import load, text
from snncompile.ir.node import Node
from snncompile.ir.nodes import Flatten, Output
from snncompile.ir.verify import verify
from snncompile_lava import netx_extension
from snncompile_lava.netx_chain import find_chain
from snncompile_lava.netx_layers import KINDS, ROLES, layer_nodes

_READ_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError)
_ARRAYS = ("shape", "weight", "weight_rec", "bias", "stride", "padding", "dilation", "groups")
_NEURON = ("iDecay", "vDecay", "vThMant", "refDelay")
_REFUSED = {"delay": "synaptic delays", "messageBits": "graded spikes"}


def read_netx(path: str | os.PathLike[str]) -> Graph:
    """Read a netx HDF5 file into a verified graph; every problem is one SnnError line naming the file."""
    where = os.fspath(check_input(path))
    try:
        if not h5py.is_hdf5(where):
            raise InputFileError("not an HDF5 file (netx files are HDF5)")
        tree = read_file(where, _read_tree)
        graph = _graph(tree, Path(where).name)
    except IRError as err:
        raise InputFileError(f"{where}: {err}") from None
    except (InputFileError, UnsupportedError) as err:
        raise type(err)(f"{where}: {err}") from None
    except _READ_ERRORS as err:
        raise InputFileError(f"{where}: damaged or malformed netx file: {one_line(err)}") from None
    return graph


def _read_tree(f: h5py.Group) -> dict[str, Any]:
    return {k: _read_tree(v) if isinstance(v, h5py.Group) else load(v) for k, v in f.items()}


def _graph(tree: dict[str, Any], source: str) -> Graph:
    stored = tree.get("layer")
    if not isinstance(stored, dict):
        raise InputFileError("no /layer group: not a netx HDF5 file")
    if sorted(stored) != sorted(str(i) for i in range(len(stored))) or not stored:
        raise InputFileError(f"/layer must hold groups 0 ... N-1, found {', '.join(sorted(stored)) or 'none'}")
    layers = [_layer(i, stored[str(i)]) for i in range(len(stored))]
    if NAMESPACE not in tree:
        return verify(_lava_dl_graph(layers, source), stage="reading the netx layers")
    return _extended_graph(layers, netx_extension.parse(tree[NAMESPACE]))


# -- one layer, as netx reads it ---------------------------------------------------------------------------------
def _layer(i: int, raw: Any) -> dict[str, Any]:
    where = f"layer {i}"
    if not isinstance(raw, dict) or "type" not in raw:
        raise InputFileError(f"{where} has no 'type' dataset")
    kind = _text(raw["type"])
    if kind not in KINDS:
        raise UnsupportedError(f"{where}: type '{kind}' is not supported (supported: {', '.join(KINDS)}; netx 0.6.0 "
                               "implements no other)")
    if isinstance(raw.get("weight"), dict):
        raise UnsupportedError(f"{where} ({kind}): complex weights ('weight/real', 'weight/imag') are not supported")
    neuron = raw.get("neuron")
    for key, what in _REFUSED.items():
        if key in raw or (isinstance(neuron, dict) and key in neuron):
            raise UnsupportedError(f"{where} ({kind}): {what} ('{key}') are not supported")
    need = {"input": ("shape",), "flatten": (), "dense": ("weight", "neuron"), "conv": ("shape", "weight", "neuron"),
            "dense_rec": ("weight", "weight_rec", "neuron")}[kind]
    missing = [k for k in need if k not in raw]
    if missing:
        raise InputFileError(f"{where} ({kind}) lacks {', '.join(repr(k) for k in missing)}")
    if kind == "input" and "neuron" in raw:
        raise UnsupportedError(f"{where}: an input layer with a neuron group (netx drives it through its bias, not "
                               "the network input) is not supported; supported: input layers without neuron")
    layer: dict[str, Any] = {"type": kind}
    for key in _ARRAYS:
        if key in raw:
            layer[key] = _integers(raw[key], f"{where} '{key}'")
    if "weight" in layer:
        layer["weight"] = _weight(layer["weight"], kind, where)
    if "weight_rec" in layer:
        layer["weight_rec"] = layer["weight_rec"].reshape(len(layer["weight"]), -1)
    if "neuron" in raw:
        layer["neuron"] = _neuron(raw["neuron"], where)
    return layer


def _neuron(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or "type" not in raw:
        raise InputFileError(f"{where}: the neuron group has no 'type'")
    kind = _text(raw["type"])
    if kind not in ("CUBA", "LOIHI"):
        raise UnsupportedError(f"{where}: neuron type '{kind}' is not supported (supported: CUBA)")
    if bool(np.ravel(raw.get("gradedSpike", False)).any()):
        raise UnsupportedError(f"{where}: gradedSpike is true; netx 0.6.0 runs such layers with binary spikes, so "
                               "graded CUBA layers are not supported")
    if "weight_exp" in raw:
        warnings.warn(f"{where}: neuron/weight_exp is ignored, as netx 0.6.0 ignores it", stacklevel=2)
    missing = [k for k in _NEURON[:3] if k not in raw]
    if missing:
        raise InputFileError(f"{where}: the neuron group lacks {', '.join(repr(k) for k in missing)}")
    out: dict[str, Any] = {"type": "CUBA"}
    out.update({k: _integers(raw[k], f"{where} neuron/{k}") for k in _NEURON if k in raw})
    return out


def _weight(w: np.ndarray, kind: str, where: str) -> np.ndarray:
    if kind == "conv":
        if w.ndim < 4 or any(s != 1 for s in w.shape[4:]):
            raise InputFileError(f"{where}: conv weight must be [out, in/groups, kH, kW], got {list(w.shape)}")
        return w.reshape(w.shape[:4])
    if w.ndim != 2:
        raise InputFileError(f"{where}: dense weight must be [out, in], got {list(w.shape)}")
    return w


def _integers(value: Any, what: str) -> np.ndarray:
    """Numbers as netx reads them (``astype(int)``: truncated toward zero, with a warning when that changes them)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or not np.isfinite(arr).all():
        raise InputFileError(f"{what} must hold finite numbers, found {arr.dtype} {arr.ravel()[:3]!r:.40}")
    ints = arr.astype(np.int64)
    if not np.array_equal(ints, arr):
        warnings.warn(f"{what} holds non-integers; read as netx does, truncated toward zero", stacklevel=3)
    return ints


def _text(value: Any) -> str:
    arr = np.asarray(value)
    return text(arr.ravel()[0] if arr.size == 1 else value)


# -- a file as lava-dl writes it ---------------------------------------------------------------------------------
def _lava_dl_graph(layers: list[dict[str, Any]], source: str) -> Graph:
    """Names ``input``, ``layer<i>_<role>``, ``output``; an input layer, else an input the first dense layer's width."""
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    first = layers[0]
    if first["type"] in ("dense", "dense_rec"):
        given: dict[str, Any] = {"type": "input", "shape": np.array(first["weight"].shape[1:])}
    elif first["type"] == "input":
        given = first
    else:
        raise UnsupportedError(f"layer 0 is a {first['type']} layer and there is no input layer: the input shape is "
                               "unknown")
    nodes["input"] = layer_nodes(given)[0]
    out, dims, before = "input", len(np.ravel(given["shape"])), "input"
    start = 1 if first["type"] == "input" else 0
    for i, layer in enumerate(layers[start:], start=start):
        kind = layer["type"]
        if kind == "input":
            raise UnsupportedError(f"layer {i}: an input layer after layer 0")
        if kind.startswith("dense") and dims > 1:
            if before == "conv":
                raise UnsupportedError(f"layer {i} ({kind}) follows a conv layer without a flatten layer, which netx "
                                       "cannot connect")
            nodes["input_flatten"] = Flatten(start_dim=0, end_dim=-1)  # netx feeds the input flat, row-major
            edges.append(Edge(out, "input_flatten"))
            out = "input_flatten"
        if kind == "conv" and dims != 3:
            raise UnsupportedError(f"layer {i} (conv) takes a [C, H, W] tensor, but the layer before gives {dims} axes")
        names = tuple(f"layer{i}_{role}" for role in ROLES[kind])
        nodes.update(zip(names, _nodes(i, layer), strict=True))
        edges.append(Edge(out, names[0]))
        if len(names) > 1:
            edges.append(Edge(names[0], names[1]))
        if kind == "dense_rec":
            edges += [Edge(names[3], names[1]), Edge(names[1], names[2]), Edge(names[2], names[3])]
        out, dims, before = names[1] if len(names) > 1 else names[0], 3 if kind == "conv" else 1, kind
    nodes["output"] = Output()
    edges.append(Edge(out, "output"))
    graph = Graph(nodes, tuple(edges), metadata={"source": source})
    _check_shapes(graph, layers)
    return graph


def _nodes(i: int, layer: dict[str, Any]) -> tuple[Node, ...]:
    try:
        return layer_nodes(layer)
    except UnsupportedError as err:
        raise UnsupportedError(f"layer {i}: {err}") from None
    except ValueError as err:
        raise InputFileError(f"layer {i} ({layer['type']}): {err}") from None


def _check_shapes(graph: Graph, layers: list[dict[str, Any]]) -> None:
    """netx checks each layer's ``shape`` against its synapse; so does this reader."""
    for i, layer in enumerate(layers):
        kind = layer["type"]
        if kind not in ("conv", "dense", "dense_rec") or "shape" not in layer:
            continue
        got = graph.types[f"layer{i}_neuron"].shape
        want = tuple(layer["shape"].ravel()) if kind == "conv" else (int(np.prod(layer["shape"])),)
        if got != want:
            raise InputFileError(f"layer {i} ({kind}): 'shape' says {list(want)} but its weights give {list(got)}")


# -- a file netx_write wrote ---------------------------------------------------------------------------------------
def _extended_graph(layers: list[dict[str, Any]], ext: netx_extension.Extension) -> Graph:
    if len(ext.layer_nodes) != len(layers) or any(
            len(names) != len(ROLES[layer["type"]]) for names, layer in zip(ext.layer_nodes, layers, strict=False)):
        raise InputFileError(f"/{NAMESPACE}/layer_nodes does not match /layer (edited by another tool?)")
    nodes: dict[str, Node] = {}
    for i, (names, layer) in enumerate(zip(ext.layer_nodes, layers, strict=True)):
        nodes.update(zip(names, _nodes(i, layer), strict=True))
    if ext.output is not None:
        nodes[ext.output] = Output()
    for name, rec in ext.records.items():
        try:
            nodes[name] = from_record(name, rec)
        except IRError as err:
            raise InputFileError(f"node '{name}' ({rec.type}): {err.rule}") from None
    nodes.update(ext.previous)
    if sorted(ext.node_order) != sorted(nodes):
        raise InputFileError(f"/{NAMESPACE}/node_order does not list the file's nodes")
    graph = verify(Graph({n: nodes[n] for n in ext.node_order}, ext.edges, ext.dt, ext.metadata),
                   stage="reading the netx file")
    chain = find_chain(graph)
    pairs = zip(chain.layers, ext.layer_nodes, layers, strict=False)
    same = chain.output == ext.output and len(chain.layers) == len(layers) and all(
        a.nodes == names and _same(a.data, b) for a, names, b in pairs)
    if not same:
        raise InputFileError(f"/layer and /{NAMESPACE} disagree: the graph the extension describes would be written "
                             "as other layers (edited by another tool?)")
    return graph


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Layer datasets as written and as read (refDelay and other datasets netx ignores aside)."""
    keys = set(a) - {"refDelay", "gradedSpike"}
    if keys != set(b) - {"refDelay", "gradedSpike"}:
        return False
    return all(_same(a[k], b[k]) if isinstance(a[k], dict) else
               a[k] == b[k] if isinstance(a[k], str) else np.array_equal(np.ravel(a[k]), np.ravel(b[k]))
               for k in keys)
