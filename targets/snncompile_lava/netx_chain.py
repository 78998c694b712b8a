"""The part of a fixed-point graph that netx can hold: the chain of layers from the graph's input (docs/netx.md).

lava-dl's ``netx.hdf5.Network`` builds a sequence: each layer feeds the next, the last one is the network's output.
``find_chain`` walks the graph from its single binary Input and takes one layer per step while the node reached is
the only consumer of the previous layer's output (Output nodes aside) and netx can express it:

* ``Flatten`` or ``Reshape`` to a vector -> ``flatten``;
* ``LoihiDense`` on a vector -> ``LoihiLIF`` -> ``dense``; with a second input to the LIF that is a ``LoihiDense``
  of the LIF's own spikes one step back (through a ``Previous`` node before or after it, nothing else) ->
  ``dense_rec``;
* ``LoihiConv2d`` on a [C, H, W] tensor -> ``LoihiLIF`` -> ``conv``.

The walk stops at the first node that breaks these rules, and says why; everything from there on is the snncompile
extension's (``netx_write``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from snncompile.errors import UnsupportedError
from snncompile.ir.graph import Graph
from snncompile.ir.nodes import Flatten, Input, LoihiConv2d, LoihiDense, LoihiLIF, Output, Previous, Reshape
from snncompile.ir.types import Kind
from snncompile_lava.netx_layers import conv_layer, dense_layer, flatten_layer, input_layer


@dataclasses.dataclass(frozen=True)
class Layer:
    """One ``/layer/<i>``: its kind, the IR nodes it stands for (in ``netx_layers.ROLES`` order), its datasets."""

    kind: str
    nodes: tuple[str, ...]
    data: dict[str, Any]

    @property
    def out(self) -> str:
        """The node whose output is the layer's output."""
        return self.nodes[1] if len(self.nodes) > 1 else self.nodes[0]


@dataclasses.dataclass(frozen=True)
class Chain:
    layers: tuple[Layer, ...]
    output: str | None  # the Output node fed by the last layer alone: what netx's Network.out stands for
    stop: str  # why the walk ended before the graph's end ("" when it reached only Output nodes)


def find_chain(graph: Graph) -> Chain:
    """The netx chain of ``graph``; UnsupportedError when netx can hold no synaptic layer of it."""
    if len(graph.inputs) != 1:
        raise UnsupportedError(f"the graph has {len(graph.inputs)} inputs; a netx network has one")
    first = graph.inputs[0]
    kind = graph.types[first].kind
    if kind != Kind.BINARY:
        raise UnsupportedError(f"input '{first}' carries {kind} values; netx networks take binary spikes")
    layers = [Layer("input", (first,), input_layer(cast(Input, graph.nodes[first])))]
    stop = ""
    while True:
        try:
            nxt = _successor(graph, layers[-1])
            if nxt is None:
                break
            layers.append(_layer_at(graph, nxt, layers[-1].out))
        except UnsupportedError as err:
            stop = str(err)
            break
    if len(layers) == 1 or all(layer.kind == "flatten" for layer in layers[1:]):
        raise UnsupportedError(f"netx can hold no synaptic layer of this graph: {stop or 'it has none'}")
    last = layers[-1].out
    output = next((n for n in graph.consumers(last) if isinstance(graph.nodes[n], Output)
                   and graph.sources(n) == {"input": [last]}), None)
    return Chain(tuple(layers), output, stop)


def _successor(graph: Graph, layer: Layer) -> str | None:
    """The one node the layer's output feeds besides Output nodes (and the layer's own recurrence); None if none."""
    here = layer.out
    nxt = [n for n in graph.consumers(here) if n not in layer.nodes and not isinstance(graph.nodes[n], Output)]
    if not nxt:
        return None
    if len(nxt) > 1:
        raise UnsupportedError(f"node '{here}' feeds {len(nxt)} nodes ({', '.join(nxt)}); a netx network is a chain "
                               "of layers")
    if graph.sources(nxt[0]) != {"input": [here]}:
        raise UnsupportedError(f"node '{nxt[0]}' has inputs besides '{here}'; a netx layer has one")
    return nxt[0]


def _layer_at(graph: Graph, name: str, prev: str) -> Layer:
    node, shape = graph.nodes[name], graph.types[prev].shape
    if isinstance(node, Flatten | Reshape):
        out = graph.types[name]
        if len(out.shape) != 1:
            raise UnsupportedError(f"node '{name}': {node.op} to {out}; netx's flatten layer makes vectors only")
        return Layer("flatten", (name,), flatten_layer(out))
    if not isinstance(node, LoihiDense | LoihiConv2d):
        raise UnsupportedError(f"node '{name}': {node.op} has no netx layer (netx holds Flatten, LoihiDense and "
                               "LoihiConv2d each followed by a LoihiLIF)")
    conv = isinstance(node, LoihiConv2d)
    if len(shape) != (3 if conv else 1):
        raise UnsupportedError(f"node '{name}': {node.op} on {graph.types[prev]}; netx's "
                               f"{'conv layers take [C, H, W]' if conv else 'dense layers take vectors'}")
    lif, neuron = _neuron(graph, name)
    others = [s for s in graph.sources(lif)["input"] if s != name]
    if isinstance(node, LoihiConv2d):
        if others:
            raise UnsupportedError(f"node '{lif}' has inputs besides '{name}'; netx has no recurrent conv layer")
        return Layer("conv", (name, lif), conv_layer((name, lif), node, neuron, graph.types[lif]))
    if not others:
        return Layer("dense", (name, lif), dense_layer((name, lif), node, neuron))
    rec, prev_node = _recurrence(graph, lif, others)
    names = (name, lif, rec, prev_node)
    return Layer("dense_rec", names, dense_layer(names, node, neuron, cast(LoihiDense, graph.nodes[rec])))


def _neuron(graph: Graph, synapse: str) -> tuple[str, LoihiLIF]:
    after = graph.consumers(synapse)
    neuron = graph.nodes[after[0]] if len(after) == 1 else None
    if not isinstance(neuron, LoihiLIF):
        raise UnsupportedError(f"node '{synapse}' feeds {', '.join(after)}; a netx layer is a synapse feeding one "
                               "LoihiLIF")
    return after[0], neuron


def _recurrence(graph: Graph, lif: str, others: list[str]) -> tuple[str, str]:
    """(recurrent LoihiDense, Previous) of a dense_rec layer: the LIF's other input is ``LIF -> LoihiDense ->
    Previous -> LIF`` (as NIR files close such a cycle) or ``LIF -> Previous -> LoihiDense -> LIF`` (the same
    function: the synapse holds no state); UnsupportedError otherwise."""
    def only(name: str, kind: type, source: str) -> bool:
        return isinstance(graph.nodes[name], kind) and graph.sources(name) == {"input": [source]}

    first = others[0]
    after = graph.sources(first).get("input", [])
    single = len(others) == 1 and len(after) == 1
    if single and graph.consumers(first) == [lif] and graph.consumers(after[0]) == [first]:
        if only(first, Previous, after[0]) and only(after[0], LoihiDense, lif):
            return after[0], first
        if only(first, LoihiDense, after[0]) and only(after[0], Previous, lif):
            return first, after[0]
    raise UnsupportedError(f"node '{lif}' has inputs {', '.join(others)} besides its synapse; netx's dense_rec layer "
                           "takes one: a LoihiDense of the neuron's own spikes, one step back through a Previous node")
