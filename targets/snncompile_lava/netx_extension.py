"""The ``/snncompile`` group of a netx file: what ``/layer`` cannot say about the graph (docs/netx.md).

netx 0.6.0 reads ``/layer`` only, so this group never changes what lava-dl loads. Layout (format 1)::

    /snncompile/format              1 (this layout's version)
    /snncompile/dt                  the graph's time step
    /snncompile/node_order          [N] every node's name, in graph order
    /snncompile/edges               [E, 3] source, destination, port: every edge, in graph order
    /snncompile/layer_nodes/<i>     the names of the IR nodes /layer/<i> stands for (netx_layers.ROLES order)
    /snncompile/output              the Output node that netx's Network.out stands for (absent if none)
    /snncompile/nodes/<name>/...    an NIR node record (nir_convert): every node /layer does not hold, and every
                                    /layer node whose exact form differs from the one /layer gives (e.g. a
                                    weight_exp other than 0, a Reshape written as netx's flatten)
    /snncompile/previous/<name>/    shape, kind: Previous nodes outside /layer (NIR has no record for them)
    /snncompile/metadata/...        the graph's metadata

``Extension`` is the group in memory; ``write`` and ``parse`` convert it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from snncompile.errors import InputFileError, UnsupportedError
from snncompile.ir.graph import Edge
from snncompile.ir.nir_convert import NAMESPACE, NirRecord
from snncompile.ir.nir_hdf5 import check_name, dataset, group, plain, text, write_tree
from snncompile.ir.nodes import Previous
from snncompile.ir.types import Kind, TensorType

FORMAT = 1


@dataclasses.dataclass
class Extension:
    dt: float
    node_order: tuple[str, ...]
    edges: tuple[Edge, ...]
    layer_nodes: tuple[tuple[str, ...], ...]
    output: str | None
    records: dict[str, NirRecord]
    previous: dict[str, Previous]
    metadata: Mapping[str, Any]


def write(parent: h5py.Group, ext: Extension) -> None:
    g = group(parent, NAMESPACE)
    dataset(g, "format", np.int64(FORMAT))
    dataset(g, "dt", np.float64(ext.dt))
    dataset(g, "node_order", np.array(ext.node_order, dtype=object))
    dataset(g, "edges", np.array([(e.src, e.dst, e.port) for e in ext.edges], dtype=object).reshape(-1, 3))
    layers = group(g, "layer_nodes")
    for i, names in enumerate(ext.layer_nodes):
        dataset(layers, str(i), np.array(names, dtype=object))
    if ext.output is not None:
        dataset(g, "output", ext.output)
    nodes = group(g, "nodes")
    for name, rec in ext.records.items():
        check_name(name, "node name")
        node = group(nodes, name)
        dataset(node, "type", rec.type)
        for key, value in rec.params.items():
            dataset(node, key, value)
        if rec.meta:
            write_tree(group(group(node, "metadata"), NAMESPACE), rec.meta, f"node '{name}' metadata")
    previous = group(g, "previous")
    for name, prev in ext.previous.items():
        check_name(name, "node name")
        node = group(previous, name)
        dataset(node, "shape", np.array(prev.type.shape, np.int64))
        dataset(node, "kind", str(prev.type.kind))
    write_tree(group(g, "metadata"), ext.metadata, "graph metadata")


def parse(tree: Mapping[str, Any]) -> Extension:
    """The extension from the group's datasets as read (``load``-ed values, groups as dicts)."""
    version = plain(tree.get("format", -1))
    if version != FORMAT:
        raise UnsupportedError(f"/{NAMESPACE} has layout format {version!r:.20}; this snncompile reads format "
                               f"{FORMAT}")
    try:
        edges = np.asarray(tree["edges"])
        layers = tree["layer_nodes"]
        return Extension(
            dt=float(plain(tree["dt"])),
            node_order=_names(tree["node_order"]),
            edges=tuple(Edge(*(text(v) for v in row)) for row in edges.reshape(-1, 3)),
            layer_nodes=tuple(_names(layers[str(i)]) for i in range(len(layers))),
            output=text(tree["output"]) if "output" in tree else None,
            records={name: _record(rec) for name, rec in tree.get("nodes", {}).items()},
            previous={name: Previous(type=TensorType(tuple(int(s) for s in np.ravel(p["shape"])),
                                                     Kind(text(p["kind"]))))
                      for name, p in tree.get("previous", {}).items()},
            metadata=_plain_tree(tree.get("metadata", {})))
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise InputFileError(f"/{NAMESPACE} is malformed ({type(err).__name__}: {err})") from None


def _names(value: Any) -> tuple[str, ...]:
    return tuple(text(v) for v in np.ravel(value))


def _record(tree: Mapping[str, Any]) -> NirRecord:
    meta = tree.get("metadata", {}).get(NAMESPACE, {})
    params = {k: v for k, v in tree.items() if k not in ("type", "metadata")}
    return NirRecord(text(tree["type"]), params, _plain_tree(meta))


def _plain_tree(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain_tree(v) if isinstance(v, Mapping) else plain(v) for k, v in tree.items()}
