"""The energy report as tables: one set of rows (``tables``) rendered for the terminal (rich) or as Markdown."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from snncompile.energy.count import FIELDS
from snncompile.energy.report import REFERENCE
from snncompile.tables import numeric_columns, print_table

Tables = list[tuple[str, list[str], list[list[str]]]]  # (title, header, rows)


def energy_text(pj: float) -> str:
    """A picojoule figure in the unit that reads best (pJ, nJ, uJ, mJ, J)."""
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= scale:
            return f"{pj / scale:.3f} {unit}"
    return f"{pj:.3f} pJ"


def _n(x: float) -> str:
    if x == 0:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def metric_text(key: str, value: float) -> str:
    """A convention's figure: a sparsity as a fraction, anything else as a count."""
    return f"{value:.4f}" if key.endswith("sparsity") else f"{value:,.0f}"


def _layers(report: dict[str, Any]) -> list[list[str]]:
    ref = next((t for t in report["targets"] if t["name"] == REFERENCE), None)
    rows = []
    for layer in report["layers"]:
        pj = ref["by_layer"][layer["name"]] if ref else 0.0
        energy = energy_text(pj) if pj else "-"
        rate = f"{layer['firing_rate']:.3f}" if layer["neuron_updates"] else f"in {layer['input_rate']:.3f}"
        rows.append([layer["name"], layer["op"], layer["input_kind"] or "-", _n(layer["neurons"]),
                     _n(layer["synapses"]), _n(layer["input_events"]), _n(layer["synops"]),
                     _n(layer["graded_ops"]), _n(layer["macs"]), _n(layer["spikes"]), rate, energy])
    return rows


def tables(report: dict[str, Any]) -> Tables:
    t = report["totals"]
    ann = report["ann_equivalent"]["energy_pj"]
    layer_header = ["layer", "op", "input", "neurons", "synapses", "input events", "synops", "graded ops", "MACs",
                    "spikes", "rate", f"E ({REFERENCE})"]
    totals = [[k.replace("_", " "), _n(t[k])] for k in FIELDS if k != "input_positions"]
    targets = [[x["name"], energy_text(x["total_pj"]), f"{ann / x['total_pj']:.3g}x" if x["total_pj"] else "-",
                ", ".join(f"{k} ({_n(v)})" for k, v in x["unpriced"].items()) or "-"] for x in report["targets"]]
    paper = [[name, energy_text(p["energy_pj"]), _n(p["sops"]), p["formula"]] for name, p in report["paper"].items()]
    paper.append(["ANN equivalent", energy_text(ann), _n(report["ann_equivalent"]["macs"]) + " MACs",
                  f"{REFERENCE} E_MAC x all multiply-adds"])
    figures = [[name, key.replace("_", " "), metric_text(key, value)] for name, p in report["paper"].items()
               for key, value in p.get("metrics", {}).items()]
    return [
        ("layers (per sample)", layer_header, _layers(report)),
        ("totals (per sample)", ["count", "value"], totals),
        (f"energy per sample (integer inputs as {report['integer_inputs']})",
         ["target", "energy", "ANN / this", "not modelled (operations)"], targets),
        ("paper conventions", ["convention", "energy", "SOPs", "formula"], paper),
        ("convention figures (per sample)", ["convention", "figure", "value"], figures),
    ]


def _caption(report: dict[str, Any]) -> str:
    acc = "" if report["accuracy"] is None else f", accuracy {report['accuracy']:.4f}"
    return (f"{report['model']} on {report['data']}: {report['samples']} samples, T = {report['steps']}{acc}; "
            f"lowering: {', '.join(report['lowering']) or 'none'}")


def print_report(report: dict[str, Any], console: Console) -> None:
    """The caption and the tables on ``console``, at its width (snncompile.tables)."""
    console.print(_caption(report))
    for title, header, rows in tables(report):
        print_table(console, title, header, rows, numeric_columns(rows))


def markdown(report: dict[str, Any]) -> str:
    out = [f"# Energy report: {report['model']}", "", _caption(report), ""]
    for title, header, rows in tables(report):
        out += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)
