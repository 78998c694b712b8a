"""Analytical estimates: per-layer firing rates from a file instead of a simulation.

A rates file is JSON with ``"schema": "snncompile.rates/1"`` and a ``"convention"`` (``spikformer`` or
``spikingresformer``, conventions.py), in one of two forms:

* per layer, with a graph: ``"steps": T`` and ``"rates": {layer: fr}`` -- fr = input firing rate of each
  synapse-like layer or SpikeMatMul (non-zero inputs per input position per step). The spikformer convention
  takes ``SOPs_l = fr_l x T x FLOPs_l`` with the papers' FLOPs formula (flops.py), the spikingresformer one
  ``fr_l x T x`` the exact fan-out (what its measured SOPs are). Exactly the layers the convention uses a rate
  for need one, and no other layer may have one: the spikformer convention rates a first layer fed binary input
  (event frames) and costs one fed a real input as ``E_MAC x T x FLOPs`` with no rate; it counts no pooling
  and no classifier head; the spikingresformer one skips the first layer and the classifier;
* totals: ``"sops": N`` (the paper's OPs) and the first-layer term, either given (``"first_layer_pj"``, a
  paper's constant) or computed from a graph (pass the .nir file; ``"steps": T``): ``E_MAC x T x FLOPs`` of its
  first layer fed a real input. ``E = E_AC x sops + first-layer term``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from snncompile.energy.conventions import CONVENTIONS, RATED, PaperEstimate
from snncompile.energy.count import Counts, LayerCount, classifiers, is_first
from snncompile.energy.fanout import FANOUT_NODES, fanout
from snncompile.energy.flops import matmul_flops, paper_flops
from snncompile.errors import InputFileError
from snncompile.files import read_parsed
from snncompile.ir import Graph, Kind
from snncompile.ir import nodes as n
from snncompile.targets.description import Description

SCHEMA = "snncompile.rates/1"


def read_rates(path: str | Path) -> dict[str, Any]:
    raw = read_parsed(path, json.loads, "JSON", (json.JSONDecodeError,))
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise InputFileError(f"{path}: expected a JSON object with \"schema\": \"{SCHEMA}\"")
    if raw.get("convention") not in RATED:
        raise InputFileError(f"{path}: \"convention\" must be one of {', '.join(RATED)}")
    if ("sops" in raw) == ("rates" in raw):
        raise InputFileError(f"{path}: give either \"sops\" (totals) or \"steps\" and \"rates\" (per layer)")
    return raw


def _layer(graph: Graph, name: str, steps: int, rate: float, heads: set[str]) -> LayerCount:
    node, ports = graph.nodes[name], graph.port_types(name)
    if isinstance(node, n.SpikeMatMul):
        exact, positions = matmul_flops(graph, name), ports["a"].size
        kind = Kind.REAL if Kind.REAL in (ports["a"].kind, ports["b"].kind) else ports["a"].kind
    else:
        exact, positions = int(fanout(node, name, ports["input"]).sum()), ports["input"].size
        kind = ports["input"].kind
    layer = LayerCount(name, node.op, input_kind=kind.value, first=is_first(graph, name), classifier=name in heads,
                       flops=float(paper_flops(graph, name) * steps))
    layer.values.update(input_positions=float(positions * steps), input_events=rate * positions * steps,
                        dense_macs=float(exact * steps), synops=rate * exact * steps)
    return layer


def _unrated(layer: LayerCount) -> str:
    if layer.first:
        return f"the first layer, {layer.input_kind} input" + (": E_MAC x T x FLOPs" if layer.input_kind == "real"
                                                                 else "")
    return "the classifier head" if layer.classifier else f"{layer.op}: not counted"


def _per_layer(graph: Graph, raw: dict[str, Any], desc: Description) -> PaperEstimate:
    steps, rates, convention = int(raw.get("steps", 0)), raw["rates"], raw["convention"]
    if steps < 1 or not isinstance(rates, dict):
        raise InputFileError("rates file: per-layer form needs \"steps\" >= 1 and \"rates\": {layer: rate}")
    heads = classifiers(graph)
    layers = []
    for name in graph.order:
        if not isinstance(graph.nodes[name], FANOUT_NODES + (n.SpikeMatMul,)):
            continue
        layer = _layer(graph, name, steps, float(rates.get(name, np.nan)), heads)
        rated = RATED[convention](layer)
        if rated and name not in rates:
            raise InputFileError(f"rates file: no rate for layer '{name}' ({layer.op})")
        if name in rates and not rated:
            raise InputFileError(f"rates file: the {convention} convention uses no rate for layer '{name}' "
                                 f"({_unrated(layer)}); remove it")
        if not rated:
            layer.values.update(input_events=0.0, synops=0.0)
        layers.append(layer)
    unknown = sorted(set(rates) - {layer.name for layer in layers})
    if unknown:
        raise InputFileError(f"rates file: {', '.join(unknown)} are not synapse layers of the graph")
    return CONVENTIONS[convention](Counts(steps, 1, layers), desc, "ac")


def estimate(raw: dict[str, Any], desc: Description, graph: Graph | None = None) -> PaperEstimate:
    """The paper-convention estimate for a rates file (``read_rates``) under ``desc``'s E_AC / E_MAC."""
    if "rates" in raw:
        if graph is None:
            raise InputFileError("rates file: the per-layer form needs the model's graph (pass the .nir file)")
        return _per_layer(graph, raw, desc)
    sops, e_ac = float(raw["sops"]), desc.costs["synop"].pj
    if graph is None or raw["convention"] != "spikformer":
        first = float(raw.get("first_layer_pj", 0.0))
        return PaperEstimate(raw["convention"], e_ac * sops + first, first, sops,
                             f"{e_ac} pJ x SOPs + first-layer term {first:g} pJ (given)", {})
    steps = int(raw.get("steps", 0))
    if "first_layer_pj" in raw or steps < 1:
        raise InputFileError("rates file: with a graph the totals form computes the first-layer term: it needs "
                             "\"steps\" >= 1 and no \"first_layer_pj\"")
    flops = sum(paper_flops(graph, name) for name in graph.order if is_first(graph, name)
                and graph.nodes[name].events and Kind.REAL in {t.kind for t in graph.port_types(name).values()})
    first = desc.costs["mac"].pj * flops * steps
    return PaperEstimate("spikformer", e_ac * sops + first, first, sops,
                         f"{e_ac} pJ x SOPs + {desc.costs['mac'].pj} pJ x T x FLOPs(first layer) (from the graph)",
                         {}, {"first_layer_macs": float(flops * steps)})

