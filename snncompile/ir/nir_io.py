"""NIR files: ``write_nir(graph, path)`` and ``read_nir(path, dt=None)``.

The file is NIR 1.0's HDF5 layout, as ``nir.write`` produces it::

    /version                     "1.0.8" (the NIR release whose reader this layout is tested against)
    /node/type                   "NIRGraph"
    /node/edges                  [E, 2] strings: source, destination
    /node/nodes/<name>/type      "LIF", "Conv2d", ..., or "snncompile.<op>" for extension nodes
    /node/nodes/<name>/<param>   one dataset per parameter (see ``nir_convert``)
    /node/nodes/<name>/metadata/snncompile/...   what NIR cannot say about the node
    /node/metadata/snncompile/   dt, format (an integer version of this namespace), node_order
    /node/metadata/<key>         the graph's own metadata (``Graph.metadata``)

Ports: NIR edges name nodes only; an edge into a port other than ``input`` (only extension nodes have such
ports) names its destination ``<node>.<port>``, as NIR's proposals for addressing subgraph inputs do. The
reader resolves an endpoint as a node name first, then as ``<subgraph>.<rest>``, then as ``<node>.<port>``;
the writer refuses a graph where ``<node>.<port>`` is also the name of a node.

Reading takes any NIR 1.0 file (ours or another tool's) with h5py, not ``nir.read``: nested ``NIRGraph``
nodes are flattened (inner nodes become ``<subgraph>.<name>``, inner Input/Output nodes are bypassed), the
graph is checked by ``verify``, and every problem is an ``SnnError`` naming the file (and the node).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import re
import secrets
from collections.abc import Collection
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snncompile.errors import InputFileError, IRError, OutputFileError, UnsupportedError, one_line
from snncompile.files import check_output
from snncompile.ir.graph import Edge, Graph
from snncompile.ir.nir_convert import NAMESPACE, NirRecord, from_record, to_record
from snncompile.ir.nir_guard import read_file
from snncompile.ir.nir_hdf5 import LIBVER, check_name, dataset, group, load, read_tree, text, write_tree
from snncompile.ir.node import Node
from snncompile.ir.nodes import Previous
from snncompile.ir.recurrence import close_cycles
from snncompile.ir.types import TensorType
from snncompile.ir.verify import verify

NIR_VERSION = "1.0.8"
FORMAT = 1
_READ_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError)


def write_nir(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` to ``path`` atomically (a temporary file in the same folder, then ``os.replace``); on
    any error no file is left behind and an existing ``path`` is untouched. Same graph -> same bytes."""
    check_output(path)  # a missing folder is one clear line, before any work
    verify(graph)
    previous = _previous_records(graph)
    records = {name: _record(graph, name, node) for name, node in graph.nodes.items() if name not in previous}
    edges = [(s, _dst_ref(graph, e)) for e in graph.edges if e.dst not in previous
             for s in (previous[e.src]["sources"] if e.src in previous else (e.src,))]
    ours: dict[str, Any] = {"dt": graph.dt, "format": FORMAT, "node_order": tuple(graph.nodes)}
    if previous:
        ours["previous"] = previous
    meta = {**{k: v for k, v in graph.metadata.items() if k != NAMESPACE}, NAMESPACE: ours}
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with h5py.File(tmp, "w", libver=LIBVER) as f:
            dataset(f, "version", NIR_VERSION)
            root = group(f, "node")
            dataset(root, "type", "NIRGraph")
            dataset(root, "edges", np.array(edges, dtype=object).reshape(len(edges), 2))
            nodes = group(root, "nodes")
            for name, rec in records.items():
                _write_record(group(nodes, name), rec, name)
            write_tree(group(root, "metadata"), meta, "graph metadata")
        os.replace(tmp, target)
    except OSError as err:
        raise OutputFileError(f"{target}: cannot write ({one_line(err)})") from None
    finally:
        tmp.unlink(missing_ok=True)


def _previous_records(graph: Graph) -> dict[str, dict[str, tuple[str, ...]]]:
    """Previous node -> its sources and consumer edges. In the file each source -> Previous -> consumer path is one
    plain edge (NIR's cycle), which the reader turns back into this node; only a cycle can say it."""
    out = {}
    for name in graph.previous:
        if not graph.closes_cycle(name):
            raise UnsupportedError(f"node '{name}': a Previous node outside a cycle (a one-step delay) has no NIR "
                                   "form; NIR reads an edge as a delay only where it closes a cycle (use a Delay node)")
        check_name(name, "node name")
        into = [e for e in graph.edges if e.src == name]
        out[name] = {"sources": tuple(graph.sources(name)["input"]), "consumers": tuple(e.dst for e in into),
                     "ports": tuple(e.port for e in into)}
    return out


def _record(graph: Graph, name: str, node: Node) -> NirRecord:
    check_name(name, "node name")
    return to_record(name, node, graph.port_types(name).get("input"))


def _dst_ref(graph: Graph, e: Edge) -> str:
    if e.port == "input":
        return e.dst
    ref = f"{e.dst}.{e.port}"
    if ref in graph.nodes:
        raise UnsupportedError(f"node '{e.dst}': the edge into its port '{e.port}' would be written '{ref}', "
                               "which is also a node's name; rename that node")
    return ref


def _write_record(g: h5py.Group, rec: NirRecord, name: str) -> None:
    dataset(g, "type", rec.type)
    for key, value in rec.params.items():
        dataset(g, key, value)
    if rec.meta:
        write_tree(group(group(g, "metadata"), NAMESPACE), rec.meta, f"node '{name}' metadata")


# -- reading ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Level:
    """One NIRGraph as stored: nodes (records or nested levels) and edges (pairs of endpoint strings)."""

    nodes: dict[str, NirRecord | _Level]
    edges: list[tuple[str, str]]
    meta: dict[str, Any]


def read_nir(path: str | os.PathLike[str], dt: float | None = None) -> Graph:
    """Read a NIR 1.0 HDF5 file into a verified IR graph. ``dt`` overrides the time step stored by snncompile;
    files written by other tools store none, so it is then required."""
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise InputFileError(f"{where}: not a file" if os.path.exists(where) else f"{where}: no such file")
    try:
        if not h5py.is_hdf5(where):
            raise InputFileError("not an HDF5 file (NIR files are HDF5)")
        top = read_file(where, _read_top)
        records, edges = _flatten(top)
        stored = _stored_previous(_namespace(top).get("previous"))
        nodes = {n: _convert(n, records[n]) if n in records else Previous(type=TensorType(()))
                 for n in _order(top, records, stored)}
        edges = _restore_previous(stored, edges)
        nodes, edges = close_cycles(nodes, edges, placeholders=set(stored))
    except IRError as err:
        raise InputFileError(f"{where}: {err}") from None
    except (InputFileError, UnsupportedError) as err:
        raise type(err)(f"{where}: {err}") from None
    except _READ_ERRORS as err:
        raise InputFileError(f"{where}: damaged or malformed NIR file: {one_line(err)}") from None
    ours = _namespace(top)
    if dt is None and "dt" not in ours:
        raise InputFileError(f"{where}: NIR files store no time step; pass dt (e.g. --dt 1e-4)")
    step = dt if dt is not None else ours["dt"]
    if not isinstance(step, numbers.Real) or isinstance(step, bool):
        raise InputFileError(f"{where}: dt must be a number, got {step!r:.40}")
    graph = Graph(nodes, tuple(edges), float(step), {k: v for k, v in top.meta.items() if k != NAMESPACE})
    try:
        return verify(graph, stage=f"reading {where}")
    except (ArithmeticError, ValueError, TypeError, IndexError) as err:  # a rule the verifier lacks
        raise InputFileError(f"{where}: malformed parameters: {one_line(err)}") from None


def _namespace(top: _Level) -> dict[str, Any]:
    ours = top.meta.get(NAMESPACE)
    return ours if isinstance(ours, dict) else {}


def _read_top(f: h5py.File) -> _Level:
    if "node" not in f or not isinstance(f["node"], h5py.Group) or "type" not in f["node"]:
        raise InputFileError("no /node group: not a NIR file")
    kind = text(load(f["node/type"]))
    if kind != "NIRGraph":
        raise UnsupportedError(f"the file holds a single '{kind}' node, not a NIRGraph")
    return _read_level(f["node"], "")


def _read_level(g: h5py.Group, prefix: str) -> _Level:
    raw = np.asarray(load(g["edges"])) if "edges" in g else np.zeros((0, 2), object)
    if raw.size % 2:
        raise InputFileError(f"graph '{prefix or '/'}': edges must be pairs, found shape {list(raw.shape)}")
    edges = [(text(a), text(b)) for a, b in raw.reshape(-1, 2)]
    nodes: dict[str, NirRecord | _Level] = {}
    for name, item in g["nodes"].items():
        try:
            kind = text(load(item["type"]))
            nested = kind == "NIRGraph"
            nodes[name] = _read_level(item, f"{prefix}{name}.") if nested else _read_record(item, kind)
        except _READ_ERRORS as err:
            raise InputFileError(f"node '{prefix}{name}': cannot read it: {one_line(err)}") from None
    meta = read_tree(g["metadata"]) if isinstance(g.get("metadata"), h5py.Group) else {}
    return _Level(nodes, edges, meta)


def _read_record(g: h5py.Group, kind: str) -> NirRecord:
    params = {k: load(v) for k, v in g.items() if isinstance(v, h5py.Dataset) and k != "type"}
    meta = g.get(f"metadata/{NAMESPACE}")
    return NirRecord(kind, params, read_tree(meta) if isinstance(meta, h5py.Group) else {})


def _convert(name: str, rec: NirRecord) -> Node:
    try:
        return from_record(name, rec)
    except IRError as err:
        raise InputFileError(f"node '{name}' ({rec.type}): {err.rule}") from None


def _order(top: _Level, records: dict[str, NirRecord], extra: Collection[str]) -> list[str]:
    """Node order: as written by snncompile, else Inputs, other nodes, Outputs, each in natural order of the
    names ("2" before "10"). ``extra``: names of nodes without a record (stored Previous nodes)."""
    if set(extra) & set(records):
        raise InputFileError(f"metadata {NAMESPACE}/previous names existing node(s) "
                             f"{', '.join(sorted(set(extra) & set(records)))}")
    names = [*records, *extra]
    stored = _namespace(top).get("node_order")
    if isinstance(stored, tuple) and sorted(stored) == sorted(names):
        return list(stored)
    rank = {"Input": 0, "Output": 2}

    def key(name: str) -> tuple[int, list[Any]]:
        return rank.get(records[name].type if name in records else "", 1), [(0, int(p)) if p.isdecimal() else (1, p)
                                                  for p in re.split(r"(\d+)", name)]

    return sorted(names, key=key)


def _stored_previous(tree: Any) -> dict[str, tuple[tuple[str, ...], list[tuple[str, str]]]]:
    """snncompile's record of its Previous nodes: name -> (sources, [(consumer, port), ...])."""
    if tree is None:
        return {}
    out = {}
    try:
        for name, rec in tree.items():
            sources, consumers, ports = (tuple(rec[k]) for k in ("sources", "consumers", "ports"))
            if not sources or not consumers or len(consumers) != len(ports) or not all(
                    isinstance(v, str) for v in (*sources, *consumers, *ports)):
                raise ValueError(name)
            out[name] = (sources, list(zip(consumers, ports, strict=True)))
    except (AttributeError, KeyError, TypeError, ValueError):
        raise InputFileError(f"metadata {NAMESPACE}/previous is malformed (each entry needs string lists sources, "
                             "consumers, ports)") from None
    return out


def _restore_previous(stored: dict[str, tuple[tuple[str, ...], list[tuple[str, str]]]], edges: list[Edge]
                      ) -> list[Edge]:
    """Replace the plain edges that stand for a stored Previous node by the node's own edges, in place."""
    slots: list[Edge | None] = list(edges)
    for name, (sources, consumers) in stored.items():
        for dst, port in consumers:
            at = []
            for src in sources:
                match = Edge(src, dst, port)
                if match not in slots:
                    raise InputFileError(f"metadata {NAMESPACE}/previous: node '{name}' stands for an edge "
                                         f"'{src}' -> '{dst}' that the file lacks")
                at.append(slots.index(match))
                slots[at[-1]] = None
            slots[min(at)] = Edge(name, dst, port)
        first = min(i for i, e in enumerate(slots) if e is not None and e.src == name)
        slots[first:first] = [Edge(src, name) for src in sources]
    return [e for e in slots if e is not None]


def _flatten(top: _Level) -> tuple[dict[str, NirRecord], list[Edge]]:
    """All nodes of nested graphs under dotted names; edges through inner Input/Output nodes bypass them."""
    records: dict[str, NirRecord] = {}
    edges: list[Edge] = []
    bypass: list[str] = []

    def visit(level: _Level, prefix: str) -> None:
        for name, item in level.nodes.items():
            if isinstance(item, _Level):
                visit(item, f"{prefix}{name}.")
                continue
            records[prefix + name] = item
            if prefix and item.type in ("Input", "Output"):
                bypass.append(prefix + name)
        for src, dst in level.edges:
            s, port = _resolve(level, prefix, src, "Output")
            if port != "input":
                raise InputFileError(f"edge '{src}' -> '{dst}': an edge cannot leave from port '{port}'")
            d, port = _resolve(level, prefix, dst, "Input")
            edges.append(Edge(s, d, port))

    visit(top, "")
    for inner in bypass:
        ins = [e.src for e in edges if e.dst == inner]
        outs = [e for e in edges if e.src == inner]
        edges = [e for e in edges if inner not in (e.src, e.dst)] + [dataclasses.replace(e, src=s)
                                                                     for e in outs for s in ins]
        del records[inner]
    return records, edges


def _resolve(level: _Level, prefix: str, ref: str, boundary: str) -> tuple[str, str]:
    """An edge endpoint -> (node, port): a node name, ``<subgraph>[.<inner>]``, or ``<node>.<port>``."""
    item = level.nodes.get(ref)
    if isinstance(item, NirRecord):
        return prefix + ref, "input"
    if isinstance(item, _Level):
        ends = [n for n, r in item.nodes.items() if isinstance(r, NirRecord) and r.type == boundary]
        if len(ends) != 1:
            raise UnsupportedError(f"an edge names subgraph '{prefix}{ref}', which has {len(ends)} "
                                   f"{boundary} nodes; an edge must name exactly one as '{ref}.<{boundary}>'")
        return _resolve(item, f"{prefix}{ref}.", ends[0], boundary)
    head, _, rest = ref.partition(".")
    sub = level.nodes.get(head)
    if rest and isinstance(sub, _Level):
        return _resolve(sub, f"{prefix}{head}.", rest, boundary)
    node, _, port = ref.rpartition(".")
    if node and isinstance(level.nodes.get(node), NirRecord):
        return prefix + node, port
    raise InputFileError(f"an edge names node '{prefix}{ref}', which does not exist")
