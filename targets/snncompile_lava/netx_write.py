"""Write a fixed-point graph as netx HDF5, the file lava-dl's ``netx.hdf5.Network`` (0.6.0) loads (docs/netx.md).

``/layer/0 ... /layer/N-1`` hold the chain of layers netx can express (``netx_chain``): the input, flatten, dense,
dense_rec and conv layers with CUBA neurons, every value a dataset, weights as integers (``weight * 2**weight_exp``;
netx has no weight exponent), the bias as the mantissa of netx's fixed ``bias_exp = 6``. The input layer has no
neuron group (netx then makes no input block and feeds ``Network.inp`` to the first synapse). ``/snncompile``
(``netx_extension``) holds what netx cannot: the nodes after the chain (SpikeMatMul, masks, token ops, ...), node
names, edges and metadata, so ``netx_read`` gives the same graph back; netx ignores it.

The file is written atomically (a temporary file in the same folder, then ``os.replace``) and byte-identical for
the same graph (no timestamps, a fixed HDF5 format range, graph order throughout; ``nir_hdf5``).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from typing import Any

import h5py
import numpy as np

from snncompile.errors import OutputFileError, UnsupportedError, one_line
from snncompile.files import check_output
from snncompile.ir.graph import Graph
from snncompile.ir.nir_convert import NAMESPACE, to_record
from snncompile.ir.nir_hdf5 import LIBVER, dataset, group
from snncompile.ir.nodes import Previous
from snncompile.ir.verify import verify
from snncompile_lava import netx_extension
from snncompile_lava.netx_chain import Chain, find_chain
from snncompile_lava.netx_layers import layer_nodes


@dataclasses.dataclass(frozen=True)
class NetxReport:
    """What went where: the kinds of ``/layer/0..N-1``, the nodes only the snncompile extension holds, and why the
    chain netx holds ends where it does ("" when it holds the whole graph)."""

    layers: tuple[str, ...]
    extension: tuple[str, ...]
    stop: str

    def __str__(self) -> str:
        held = f"netx layers: {', '.join(self.layers)}"
        if not self.extension:
            return held
        return f"{held}; {len(self.extension)} node(s) in the snncompile extension only, from: {self.stop}"


def write_netx(graph: Graph, path: str | os.PathLike[str], *, complete: bool = False) -> NetxReport:
    """Write ``graph`` (fixed-point nodes, ``snncompile.ir.nodes.loihi``) to ``path``. ``complete``: refuse
    (UnsupportedError) unless netx holds the whole graph. On any error no file is left and an existing one is
    untouched."""
    target = check_output(path)
    verify(graph)
    chain = find_chain(graph)
    held = {n for layer in chain.layers for n in layer.nodes} | {chain.output}
    rest = tuple(n for n in graph.nodes if n not in held)
    if complete and rest:
        raise UnsupportedError(f"netx cannot hold the whole graph ({len(rest)} node(s) left): {chain.stop}")
    ext = _extension(graph, chain, rest)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with h5py.File(tmp, "w", libver=LIBVER) as f:
            layers = group(f, "layer")
            for i, layer in enumerate(chain.layers):
                _write_layer(group(layers, str(i)), layer.data)
            netx_extension.write(f, ext)
        os.replace(tmp, target)
    except OSError as err:
        raise OutputFileError(f"{target}: cannot write ({one_line(err)})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return NetxReport(tuple(layer.kind for layer in chain.layers), rest, chain.stop)


def _extension(graph: Graph, chain: Chain, rest: tuple[str, ...]) -> netx_extension.Extension:
    differ = [name for layer in chain.layers
              for name, node in zip(layer.nodes, layer_nodes(layer.data), strict=True) if graph.nodes[name] != node]
    kept = [n for n in graph.nodes if n in differ or n in rest]
    recorded = [n for n in kept if not isinstance(graph.nodes[n], Previous)]
    return netx_extension.Extension(
        dt=graph.dt, node_order=tuple(graph.nodes), edges=graph.edges,
        layer_nodes=tuple(layer.nodes for layer in chain.layers), output=chain.output,
        records={n: to_record(n, graph.nodes[n], graph.port_types(n).get("input")) for n in recorded},
        previous={n: node for n in kept if isinstance(node := graph.nodes[n], Previous)},
        metadata={k: v for k, v in graph.metadata.items() if k != NAMESPACE})


def _write_layer(g: h5py.Group, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            _write_layer(group(g, key), value)
        elif isinstance(value, str):
            dataset(g, key, np.bytes_(value))  # ASCII bytes: netx decodes type strings with .decode('ascii')
        else:
            dataset(g, key, value)
