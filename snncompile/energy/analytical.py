"""Analytical estimates: per-layer firing rates from a file instead of a simulation.

A rates file is JSON with ``"schema": "snncompile.rates/1"`` and a ``"convention"`` (``spikformer`` or
``spikingresformer``, conventions.py), in one of two forms:

* per layer, with a graph: ``"steps": T`` and ``"rates": {layer: fr}`` -- fr = input firing rate of each
  synapse-like layer or SpikeMatMul (non-zero inputs per input position per step); FLOPs come from the graph, so
  ``SOPs_l = fr_l x T x FLOPs_l``. Every counted layer of the graph needs a rate (except the first layer in the
  spikformer convention, costed as MACs, and the first layer and classifier in the spikingresformer one);
* totals, no graph: ``"sops": N`` (the paper's OPs) and optionally ``"first_layer_pj"`` -- a paper's constant
  first-layer term -- giving ``E = E_AC x sops + first_layer_pj``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from snncompile.energy.conventions import CONVENTIONS, PaperEstimate
from snncompile.energy.count import Counts, LayerCount, classifiers, is_first, matmul_flops
from snncompile.energy.fanout import FANOUT_NODES, fanout
from snncompile.errors import InputFileError
from snncompile.files import read_parsed
from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.targets.description import Description

SCHEMA = "snncompile.rates/1"


def read_rates(path: str | Path) -> dict[str, Any]:
    raw = read_parsed(path, json.loads, "JSON", (json.JSONDecodeError,))
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise InputFileError(f"{path}: expected a JSON object with \"schema\": \"{SCHEMA}\"")
    if raw.get("convention") not in CONVENTIONS:
        raise InputFileError(f"{path}: \"convention\" must be one of {', '.join(CONVENTIONS)}")
    if ("sops" in raw) == ("rates" in raw):
        raise InputFileError(f"{path}: give either \"sops\" (totals) or \"steps\" and \"rates\" (per layer)")
    return raw


def _layer(graph: Graph, name: str, steps: int, rate: float, heads: set[str]) -> LayerCount:
    node, ports = graph.nodes[name], graph.port_types(name)
    if isinstance(node, n.SpikeMatMul):
        flops, positions = matmul_flops(graph, name), ports["a"].size
    else:
        flops, positions = int(fanout(node, name, ports["input"]).sum()), ports["input"].size
    layer = LayerCount(name, node.op, first=is_first(graph, name), classifier=name in heads)
    layer.values.update(input_positions=float(positions * steps), input_events=rate * positions * steps,
                        dense_macs=float(flops * steps), synops=rate * flops * steps)
    return layer


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
        skipped = layer.first or (convention == "spikingresformer" and layer.classifier)
        if name not in rates and not skipped:
            raise InputFileError(f"rates file: no rate for layer '{name}' ({layer.op})")
        if skipped and name not in rates:
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
    sops, first = float(raw["sops"]), float(raw.get("first_layer_pj", 0.0))
    e_ac = desc.costs["synop"].pj
    return PaperEstimate(raw["convention"], e_ac * sops + first, first, sops,
                         f"{e_ac} pJ x SOPs + first-layer term {first:g} pJ (given)", {})

