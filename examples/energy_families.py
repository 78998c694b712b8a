"""Energy reports of the trained digits models, for docs/energy.md: one row per family and target, FWformer's
token mixing against Spikformer's attention, and token-masked AT-SNN against the unmasked model.

    python examples/energy_families.py [--out docs/energy]   # also writes <out>/<model>.md (full report)

Every figure is measured: each checkpoint is traced, lowered with the cpu pipeline, simulated on the 450-image
digits test split (T from the checkpoint) and counted (snncompile.energy).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snncompile.energy.count import count
from snncompile.energy.render_text import energy_text, markdown
from snncompile.energy.report import build_report
from snncompile.files import write_text
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.ir import Graph
from snncompile.ir.nodes import StaticTokenMask
from snncompile.nn.data import load_digits_split
from snncompile.passes.registry import pipeline, run_pipeline
from snncompile.passes.token_masks import TokenMasks
from snncompile.sim.evaluate import evaluate
from snncompile.targets.description import bundled, load_description

HERE = Path(__file__).resolve().parent
MODELS = ("spikformer_digits", "fwformer_digits", "qkformer_digits", "spikingresformer_digits", "atsnn_digits")
PERCENTS = (50.0, 80.0, 95.0)


def _report(graph: Graph, name: str, steps: int) -> dict[str, Any]:
    lowered, done = run_pipeline(graph, pipeline("cpu"))
    _, _, x, y = load_digits_split()
    result = evaluate(lowered, x.numpy().astype(np.float64), y.numpy(), steps)
    return build_report(count(lowered, result.activity), [load_description(t) for t in bundled()], model=name,
                        data="digits (test split)", accuracy=result.accuracy,
                        lowering=[s.spec for s in done if s.changed])


def _by_part(report: dict[str, Any]) -> dict[str, float]:
    """Synaptic operations (synops + graded ops + MACs) per part of the network (first two name components)."""
    parts: dict[str, float] = defaultdict(float)
    for layer in report["layers"]:
        parts[".".join(layer["name"].split(".")[:3])] += layer["synops"] + layer["graded_ops"] + layer["macs"]
    return dict(parts)


def _family_table(reports: dict[str, dict[str, Any]]) -> list[str]:
    first = next(iter(reports.values()))
    names, conventions = [t["name"] for t in first["targets"]], list(first["paper"])
    lines = ["| model | accuracy | synops | graded ops | MACs | spikes | " + " | ".join(names) + " | ANN equivalent | "
             + " | ".join(f"{c} convention" for c in conventions) + " |",
             "|---" * (len(names) + len(conventions) + 7) + "|"]
    for model, r in reports.items():
        t = r["totals"]
        energies = " | ".join(energy_text(x["total_pj"]) for x in r["targets"])
        papers = " | ".join(energy_text(r["paper"][c]["energy_pj"]) for c in conventions)
        lines.append(f"| {model} | {r['accuracy']:.4f} | {t['synops']:,.0f} | {t['graded_ops']:,.0f} | "
                     f"{t['macs']:,.0f} | {t['spikes']:,.0f} | {energies} | "
                     f"{energy_text(r['ann_equivalent']['energy_pj'])} | {papers} |")
    return lines


def _parts_table(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    pa, pb = _by_part(a), _by_part(b)
    lines = [f"| part | {a['model']} | {b['model']} |", "|---|---|---|"]
    lines += [f"| {k} | {pa.get(k, 0):,.0f} | {pb.get(k, 0):,.0f} |" for k in sorted(set(pa) | set(pb))]
    ta, tb = sum(pa.values()), sum(pb.values())
    lines.append(f"| **total** | {ta:,.0f} | {tb:,.0f} ({100 * (tb / ta - 1):+.1f} %) |")
    return lines


def _masked_rows(graph: Graph, steps: int, unmasked: dict[str, Any]) -> list[str]:
    lines = ["| AT-SNN | accuracy | live tokens per block and step | synaptic ops | generic-45nm | loihi1 |",
             "|---|---|---|---|---|---|"]
    rows = [("unmasked (dynamic halting)", unmasked)]
    masked = TokenMasks(p=100.0, steps=steps, shrink=False).run(graph).graph
    nodes = {k: v.replace(mask=np.ones_like(v.mask)) if isinstance(v, StaticTokenMask) else v
             for k, v in masked.nodes.items()}
    rows.append(("no halting (every token live)", _report(masked.replace(nodes=nodes), "atsnn all live", steps)))
    for p in PERCENTS:
        masked = TokenMasks(p=p, steps=steps).run(graph).graph
        rows.append((f"token-masks p = {p:g} %", _report(masked, f"atsnn p={p:g}", steps)))
    for label, r in rows:
        ops = r["totals"]["synops"] + r["totals"]["graded_ops"] + r["totals"]["macs"]
        blocks = {}
        for layer in r["layers"]:
            if layer["live_tokens"]:
                blocks.setdefault(".".join(layer["name"].split(".")[:2]), layer["live_tokens"])
        live = "; ".join(f"{b}: " + " ".join(f"{x:.1f}" for x in v) for b, v in blocks.items())
        energies = {t["name"]: energy_text(t["total_pj"]) for t in r["targets"]}
        lines.append(f"| {label} | {r['accuracy']:.4f} | {live} | {ops:,.0f} | {energies['generic-45nm']} | "
                     f"{energies['loihi1']} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/energy"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    reports, graphs = {}, {}
    for name in MODELS:
        model, meta = load_model(HERE / f"{name}.pt")
        graphs[name] = trace(model, model.input_shape), int(meta["T"])
        reports[name] = _report(*graphs[name][:1], name, graphs[name][1])
        write_text(args.out / f"{name}.md", markdown(reports[name]))
    print("\n".join(_family_table(reports)), "\n")
    print("\n".join(_parts_table(reports["spikformer_digits"], reports["fwformer_digits"])), "\n")
    print("\n".join(_masked_rows(*graphs["atsnn_digits"], reports["atsnn_digits"])))


if __name__ == "__main__":
    main()
