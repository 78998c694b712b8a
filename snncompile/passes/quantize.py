"""quantize: float synapse -> spiking neuron groups become Loihi's fixed-point nodes (snncompile.ir.nodes.loihi).

A group is a LIF, CubaLIF or IF layer (hard reset, v_reset = v_leak, one time constant and threshold per layer)
whose input port sums only Linear, Affine or Conv2d synapses that feed nothing else. Each synapse becomes a
LoihiDense or LoihiConv2d (same name) with 8-bit mantissas and its own weight exponent, the neuron a LoihiLIF (same
name) with ``du``, ``dv``, ``vth`` and the synapses' biases as bias mantissa and exponent; the layer's scale
follows snncompile.passes.quantize_scale: the threshold mantissa as large as ``headroom`` allows (an input of
``headroom`` thresholds in one step still fits Loihi's 16-bit dendritic input), lowered until every synapse's
largest weight fits its mantissa. A layer fed by one node of integer values that is not a synapse (a SpikeMatMul
product, a sum of spikes) gets an identity LoihiDense ``<layer>.synapse`` in front: Loihi's LIF takes synapses only.
Everything else (Flatten, Reshape, pooling, products, readouts) is left as is.

Inputs: spikes give binary synapses; graded values (spike counts) give graded synapses with ``graded=true``
(Loihi 2), and are refused otherwise (Loihi 1: run graded-to-binary first). The graph's real-valued input is encoded
on the host as integer payloads by a LoihiEncode node with a power-of-two scale, ``2**floor(log2((2**payload_bits -
1) / input_max))``, divided out of the first layer's weights (``graded=true``); with ``spike_input=true`` it is read
as 0/1 events instead (binary, any chip; the Input is then declared binary, and a non-zero value is a spike).

The result is exact where the arithmetic is (weights, biases and decays on the grid; see ``exact_steps``) and
otherwise deviates by the rounding reported per layer in ``graph.metadata["quantize"]`` and measured in
docs/fixed-point.md. Refused, with the reason: subtract reset, v_reset != v_leak, parameters that vary across the
layer, dt > tau, a neuron fed by anything but synapses (directly or through a Previous node: recurrence), Conv1d.
"""

from __future__ import annotations

import dataclasses
import math
from itertools import pairwise
from typing import Any, cast

import numpy as np

from snncompile.errors import SnnError
from snncompile.ir import Graph, Kind, TensorType
from snncompile.ir import nodes as n
from snncompile.ir.graph import FreshNames
from snncompile.ir.node import Node
from snncompile.ir.nodes.loihi import VTH_RANGE, LoihiConv2d, LoihiDense, LoihiEncode, LoihiLIF
from snncompile.passes import quantize_scale as qs
from snncompile.passes.base import Pass, PassResult
from snncompile.passes.rewrite import splice_chains

TAKEN = (n.LIF, n.CubaLIF, n.IF)
MOVES = (n.Flatten, n.Reshape)


@dataclasses.dataclass(frozen=True)
class Feed:
    """A synapse into the neuron and how its input reaches Loihi: ``binary`` spikes, ``graded`` payloads, or
    ``encode`` (real input). ``node`` is the float synapse: the graph's, or an identity standing in front of a
    neuron that integer values (spike products or sums) feed directly, named ``synapse`` (not yet in the graph)."""

    synapse: str
    how: str
    node: n.Linear | n.Affine | n.Conv2d


def _graph_input(graph: Graph, name: str) -> str | None:
    """The graph Input that ``name``'s input comes from through data movement only, if any."""
    sources = graph.sources(name)["input"]
    while len(sources) == 1 and isinstance(graph.nodes[sources[0]], MOVES):
        sources = graph.sources(sources[0])["input"]
    return sources[0] if len(sources) == 1 and isinstance(graph.nodes[sources[0]], n.Input) else None


def _synapse_of(graph: Graph, src: str, neuron: str) -> str:
    """The synapse that ``src`` (a source of ``neuron``) is, or that feeds it through a Previous node (a recurrent
    connection); ValueError with the reason when there is none or it feeds other nodes too."""
    via = [src] if isinstance(graph.nodes[src], n.Previous) else []
    if via and len(graph.sources(src)["input"]) == 1:
        src = graph.sources(src)["input"][0]
    node = graph.nodes[src]
    if isinstance(node, n.Conv1d):
        raise ValueError(f"input from Conv1d '{src}': Lava's Conv is two-dimensional")
    if not isinstance(node, n.Linear | n.Affine | n.Conv2d):
        raise ValueError(f"input from '{src}' ({node.op}), not a synapse: Loihi's LIF sums synapses only")
    for a, b in pairwise([src] + via + [neuron]):
        if graph.consumers(a) != [b] or graph.sources(b)["input"].count(a) > 1:
            raise ValueError(f"synapse '{src}' also feeds {', '.join(graph.consumers(a))}: it cannot take the "
                             f"scale of '{neuron}' alone")
    return src


@dataclasses.dataclass(frozen=True)
class Quantize(Pass):
    name = "quantize"
    weight_bits: int = 8
    graded: bool = False
    payload_bits: int = 8
    input_max: float = 1.0
    spike_input: bool = False
    headroom: float = 8.0

    def __post_init__(self) -> None:
        checks = ((2 <= self.weight_bits <= 8, "weight_bits must lie in [2, 8]"),
                  (1 <= self.payload_bits <= 24, "payload_bits must lie in [1, 24]"),
                  (self.input_max > 0, "input_max must be positive"),
                  (1 <= self.headroom <= qs.INPUT_LIMIT, f"headroom must lie in [1, {qs.INPUT_LIMIT}]"))
        for ok, rule in checks:
            if not ok:
                raise SnnError(f"pass 'quantize': {rule}")

    @property
    def input_scale(self) -> float:
        return 2.0 ** math.floor(math.log2((2**self.payload_bits - 1) / self.input_max))

    def feeds(self, graph: Graph, neuron: str) -> list[Feed]:
        """The synapses into ``neuron`` and how each is fed; ValueError with the reason when the group is refused."""
        sources = graph.sources(neuron)["input"]
        if len(sources) == 1 and graph.types[sources[0]].kind != Kind.REAL and not isinstance(
                graph.nodes[sources[0]], n.Previous | n.Input):
            return [self._identity(graph, sources[0], neuron)]
        feeds = []
        for src in map(lambda s: _synapse_of(graph, s, neuron), sources):
            kind = graph.port_types(src)["input"].kind
            node = cast(n.Linear | n.Affine | n.Conv2d, graph.nodes[src])  # _synapse_of returned a synapse
            if kind == Kind.BINARY:
                feeds.append(Feed(src, "binary", node))
            elif kind == Kind.GRADED:
                if not self.graded:
                    raise ValueError(f"'{src}' reads graded values (spike counts), and this chip takes binary spikes "
                                     "(run graded-to-binary first)")
                feeds.append(Feed(src, "graded", node))
            elif _graph_input(graph, src) is not None and (self.spike_input or self.graded):
                feeds.append(Feed(src, "binary" if self.spike_input else "encode", node))
            elif _graph_input(graph, src) is not None:
                raise ValueError(f"'{src}' reads the real-valued graph input: without graded spikes it stays on the "
                                 "host (spike_input=true reads 0/1 events as spikes)")
            else:
                raise ValueError(f"'{src}' reads real values, not spikes, spike counts or the graph input")
        return feeds

    def _identity(self, graph: Graph, src: str, neuron: str) -> Feed:
        """An identity synapse for integer values that feed ``neuron`` directly (Loihi's LIF takes synapses only):
        graded values need graded spikes."""
        kind = graph.types[src].kind
        if kind == Kind.GRADED and not self.graded:
            raise ValueError(f"input from '{src}' ({graph.nodes[src].op}): integer values, not spikes, which "
                             "this chip sends only as graded spikes")
        eye = n.Linear(weight=np.eye(graph.types[src].shape[-1]))
        return Feed(f"{neuron}.synapse", "graded" if kind == Kind.GRADED else "binary", eye)

    def rewrite(self, graph: Graph) -> PassResult:
        refusals, nodes, chains, report = [], dict(graph.nodes), {}, {}
        fresh = FreshNames(graph.nodes)
        for name in graph.order:
            if not isinstance(graph.nodes[name], TAKEN):
                continue
            try:
                feeds = self.feeds(graph, name)
                lowered, report[name] = self.lower(graph, name, feeds)
            except ValueError as err:
                refusals.append(self.refuse(name, str(err)))
                continue
            nodes.update({k: v for k, v in lowered.items() if k in graph.nodes})
            for feed in feeds:
                if feed.synapse not in graph.nodes:
                    chains[name] = [(fresh(feed.synapse), lowered[feed.synapse]), (name, lowered[name])]
                    continue
                source = _graph_input(graph, feed.synapse)
                if self.spike_input and source is not None:  # the input is declared what it is read as: events
                    nodes[source] = n.Input(type=TensorType(graph.types[source].shape, Kind.BINARY))
                if feed.how == "encode":
                    encode = LoihiEncode(scale=self.input_scale, limit=2**self.payload_bits - 1)
                    chains[feed.synapse] = [(fresh(f"{feed.synapse}.encode"), encode), (feed.synapse,
                                                                                        lowered[feed.synapse])]
        if not report:
            return PassResult(graph, False, tuple(refusals))
        out = splice_chains(graph.replace(nodes=nodes), chains)
        return PassResult(out.replace(metadata={**graph.metadata, "quantize": report}), True, tuple(refusals))

    def lower(self, graph: Graph, name: str, feeds: list[Feed]) -> tuple[dict[str, Node], dict[str, Any]]:
        """The Loihi nodes of one group (by name) and its report; ValueError when the neuron cannot be expressed."""
        synapses = {f.synapse: f.node for f in feeds}
        weights = {k: s.weight / (self.input_scale if f.how == "encode" else 1.0)
                   for (k, s), f in zip(synapses.items(), feeds, strict=True)}
        biases = [s.bias.reshape((-1,) + (1,) * (s.weight.ndim - 2)) for s in synapses.values()
                  if isinstance(s, n.Affine | n.Conv2d) and s.bias.any()]
        neuron = cast(n.LIF | n.CubaLIF | n.IF, graph.nodes[name])  # the pass only groups these neurons
        form = qs.neuron_form(neuron, graph.dt, bool(biases))
        du, dv, exact = qs.decays(form)
        step = 2 ** (9 - self.weight_bits)
        wmax = 256 - step
        conv = {k: isinstance(s, n.Conv2d) for k, s in synapses.items()}
        cap = min(VTH_RANGE[1], math.floor(qs.INPUT_LIMIT / self.headroom))
        vth = qs.choose_vth(form, [(float(np.abs(w).max(initial=0)) * form.c, conv[k]) for k, w in weights.items()],
                            wmax, cap)
        scale = qs.scale_for(vth, form)
        lowered: dict[str, Node] = {}
        entries = {}
        for (k, w), f in zip(weights.items(), feeds, strict=True):
            scaled = w * form.c * scale / 64
            e = qs.exponent(float(np.abs(scaled).max(initial=0)), wmax, conv[k])
            m = qs.mantissas(scaled / 2.0**e, step, wmax)
            exact &= m.exact and (e >= 0 or bool(np.all(m.values % 2**-e == 0)))
            bits = 0 if f.how == "binary" else self.payload_bits
            cls = LoihiConv2d if conv[k] else LoihiDense
            extra = {a: getattr(synapses[k], a) for a in ("stride", "padding", "dilation", "groups")} if conv[k] else {}
            lowered[k] = cls(weight=m.values, weight_exp=e, message_bits=bits, **extra)
            entries[k] = {"weight_exp": e, "clipped": m.clipped, "peak": int(np.abs(m.values).max(initial=0))}
        mant, bexp, saturated, bias_exact = qs.bias_parts(sum(biases, np.zeros(())) * qs.bias_factor(form) * scale)
        exact &= bias_exact and not form.settles
        lowered[name] = LoihiLIF(du=np.array(du), dv=np.array(dv), vth=np.array(vth), bias_mant=mant, bias_exp=bexp)
        steps = qs.exact_steps(du, dv, mant * 2.0**bexp, 6) if exact else 0
        entry = {"du": du, "dv": dv, "vth": vth, "scale": scale, "synapses": entries, "bias_saturated": saturated,
                 "exact": exact, "exact_steps": -1 if steps is None else steps}
        return lowered, entry
