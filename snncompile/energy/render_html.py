"""The energy report (schema ``snncompile.energy/1``, report.py) as one self-contained HTML page.

Inline CSS and inline SVG charts (svg.py) only: no scripts, fonts, images or links that fetch anything, so the
page opens offline and can be attached to a paper's artefacts. Every name from the report is HTML-escaped, and the
same report always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape
from typing import Any

from snncompile.energy import svg
from snncompile.energy.render_text import metric_text

ENERGY_UNITS = (("pJ", 1.0), ("nJ", 1e3), ("\u00b5J", 1e6), ("mJ", 1e9), ("J", 1e12))
COUNT_UNITS = (("", 1.0), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12))
INTEGER_INPUTS = {"ac": "graded (integer) inputs priced as their payload in accumulates",
                  "mac": "graded (integer) inputs priced as one operation per event at E_MAC"}
TOTALS = {  # totals key -> what it counts
    "neurons": "neurons", "synapses": "synapses (weights)", "input_positions": "input elements x steps",
    "input_events": "non-zero inputs", "synops": "accumulates on binary inputs (synops)",
    "graded_ops": "graded-input operations, one per event and target",
    "graded_payload": "graded inputs as accumulates (value x fan-out)", "macs": "multiply-accumulates on real inputs",
    "dense_macs": "dense MACs (the ANN equivalent)", "mask_ops": "events reaching a mask",
    "neuron_updates": "neuron updates (every neuron, every step)",
    "active_updates": "neuron updates with a non-zero input", "spikes": "spikes"}
LAYER_COLUMNS = ("neurons", "synapses", "synops", "graded_ops", "macs", "dense_macs", "spikes")
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:20px 28px;background:#fff}
h1{font-size:24px;margin:4px 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f0f2f5}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;font-size:14px;margin:0}
dt{color:#555}dd{margin:0}.note{color:#555;font-size:13px;margin:4px 0}code{font-size:12px}
svg.chart{font-family:inherit;display:block;margin:6px 0}tr:nth-child(even) td{background:#fafbfc}
td:first-child{white-space:nowrap}.top{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,6fr);gap:28px}
"""


def fmt_energy(pj: float) -> str:
    """Picojoules in the unit that keeps the number below 1000, three significant digits."""
    return _scaled(pj, ENERGY_UNITS, " ")


def fmt_count(x: float) -> str:
    """A count with a k / M / G suffix, three significant digits; small whole numbers as they are."""
    if abs(x) < 1000 and float(x).is_integer():
        return str(int(x))
    return _scaled(x, COUNT_UNITS, "\u2009").rstrip("\u2009")


def _scaled(x: float, units: tuple[tuple[str, float], ...], sep: str) -> str:
    unit, div = units[0]
    for name, factor in units:
        if abs(x) >= factor * 0.9995:
            unit, div = name, factor
    return f"{x / div:.3g}{sep}{unit}"


def _table(header: list[str], rows: list[list[str]], numeric: Collection[int] = ()) -> str:
    """A table of already-escaped cells; columns in ``numeric`` right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if j in numeric else f"<td>{c}</td>"
                                    for j, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _reference(report: dict[str, Any]) -> dict[str, Any] | None:
    """The target the ANN equivalent is priced on (generic 45 nm), else the first one, else None."""
    targets = report["targets"]
    name = report["ann_equivalent"]["target"]
    return next((t for t in targets if t["name"] == name), targets[0] if targets else None)


def _header(r: dict[str, Any]) -> str:
    acc = "not measured" if r.get("accuracy") is None else f"{100 * r['accuracy']:.2f} %"
    rows = {"data": r["data"], "samples": str(r["samples"]), "time steps T": str(r["steps"]), "accuracy": acc,
            "lowering": " \u2192 ".join(r["lowering"]) or "none",
            "integer inputs": f"{r['integer_inputs']}: {INTEGER_INPUTS.get(r['integer_inputs'], '')}",
            "units": f"counts {r['units']['counts']}, energy {r['units']['energy']}",
            "schema": f"{r['schema']} (snncompile {r['snncompile']})"}
    meta = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows.items())
    return f"<h1>Energy report: {escape(r['model'])}</h1><dl class=\"meta\">{meta}</dl>"


def _totals(r: dict[str, Any]) -> str:
    t = r["totals"]
    rows = [[f"<code>{escape(k)}</code>", escape(what), fmt_count(t[k])] for k, what in TOTALS.items() if k in t]
    per_step = ", ".join(fmt_count(x) for x in t.get("synops_per_step", []))
    rows.append(["<code>synops_per_step</code>", "synops at t = 0, 1, ...", per_step])
    return "<h2>Totals per sample</h2>" + _table(["quantity", "what", "per sample"], rows, {2})


def _targets(r: dict[str, Any]) -> tuple[str, str]:
    """The energy-by-target section and the costs-and-sources section."""
    targets = r["targets"]
    chart = svg.bars([t["name"] for t in targets], [[t["total_pj"]] for t in targets], fmt_energy, log=True,
                     axis="energy per sample")
    rows = [[f"<b>{escape(t['name'])}</b><br>{escape(t['title'])}", fmt_energy(t["total_pj"]),
             "<br>".join(f"{escape(k)}: {fmt_energy(v)}" for k, v in t["by_kind"].items()) or "nothing priced",
             "<br>".join(f"{escape(k)} ({fmt_count(v)} per sample)" for k, v in t["unpriced"].items()) or "none"]
            for t in targets]
    costs = [[escape(t["name"]), f"<code>{escape(k)}</code>", fmt_energy(c["pj"]), escape(c["what"]),
              escape(c["source"])] for t in targets for k, c in t["costs"].items()]
    return ("<h2>Energy by target</h2>" + chart
            + _table(["target", "total", "by operation kind", "not modelled (count)"], rows, {1})
            + "<p class=\"note\">Operation kinds a description does not price are listed as not modelled, "
            "never counted as zero energy; each cost and its source is in the last section.</p>",
            "<h2>Costs and their sources</h2>"
            + _table(["target", "kind", "energy / op", "what", "source"], costs, {2}))


def _comparison(r: dict[str, Any]) -> str:
    ann, ref, paper = r["ann_equivalent"], _reference(r), r["paper"]
    labels, values = [f"ANN equivalent ({ann['target']})"], [ann["energy_pj"]]
    if ref is not None:
        labels, values = labels + [f"SNN on {ref['name']}"], values + [ref["total_pj"]]
    labels += [f"paper convention: {name}" for name in paper]
    values += [p["energy_pj"] for p in paper.values()]
    ratio = (f"The SNN on {escape(ref['name'])} uses {ann['energy_pj'] / ref['total_pj']:.2f}x less energy than "
             f"the ANN equivalent." if ref and ref["total_pj"] > 0 else "")
    rows = [[f"<code>{escape(name)}</code>", fmt_energy(p["energy_pj"]), f"{p['energy_pj'] / 1e9:.3g} mJ",
             fmt_energy(p["first_layer_pj"]), fmt_count(p["sops"]), escape(p["formula"]),
             "<br>".join(f"{escape(k)}: {escape(metric_text(k, v))}" for k, v in p.get("metrics", {}).items())]
            for name, p in paper.items()]
    return ("<h2>ANN-equivalent comparison</h2>"
            f"<p class=\"note\">A non-spiking network of the same shape computes {fmt_count(ann['macs'])} "
            f"multiply-accumulates per sample: {fmt_energy(ann['energy_pj'])} on {escape(ann['target'])}. "
            f"{ratio}</p>" + svg.bars(labels, [[v] for v in values], fmt_energy, axis="energy per sample")
            + "<h2>Paper conventions</h2>"
            + _table(["convention", "energy", "as reported (mJ)", "first layer", "SOPs", "formula", "figures"],
                     rows, {1, 2, 3, 4}))


def _layers(r: dict[str, Any]) -> str:
    layers, ref = r["layers"], _reference(r)
    ops = [x for x in layers if x["synops"] or x["graded_ops"] or x["macs"]]
    chart = svg.bars([x["name"] for x in ops], [[x["synops"], x["graded_ops"], x["macs"]] for x in ops], fmt_count,
                     names=["synops", "graded ops", "MACs"], axis="operations per sample")
    spiking = [x for x in layers if x["rate_per_step"]]
    out = ("<h2>Firing rate per step</h2><p class=\"note\">Spikes per neuron at each time step, spiking layers in "
           "graph order; colour from 0 to the largest rate (legend).</p>"
           + svg.heatmap([x["name"] for x in spiking], [x["rate_per_step"] for x in spiking])
           + "<h2>Operations per layer</h2>" + chart)
    if ref is not None:
        spent = [(name, pj) for name, pj in ref["by_layer"].items() if pj > 0]
        out += (f"<h2>Energy per layer on {escape(ref['name'])}</h2>"
                + svg.bars([n for n, _ in spent], [[pj] for _, pj in spent], fmt_energy, axis="energy per sample"))
    by_layer = ref["by_layer"] if ref else {}
    head = ["layer", "op", "input"] + [c.replace("_", " ") for c in LAYER_COLUMNS] + ["firing rate", "input rate"]
    if ref is not None:
        head.append(f"energy ({escape(ref['name'])})")
    rows = []
    for x in layers:
        flags = "".join(f" <i>{f}</i>" for f in ("first", "classifier") if x[f])
        row = [f"<code>{escape(x['name'])}</code>{flags}", escape(x["op"]), escape(x["input_kind"])]
        row += [fmt_count(x[c]) for c in LAYER_COLUMNS] + [f"{x['firing_rate']:.4f}", f"{x['input_rate']:.4f}"]
        if ref is not None:
            pj = by_layer.get(x["name"], 0.0)
            row.append(fmt_energy(pj) if pj else "-")  # as the terminal report: no priced operation, no figure
        rows.append(row)
    return out + "<h2>Per-layer counts</h2>" + _table(head, rows, set(range(3, len(head))))


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML page for a ``snncompile.energy/1`` report."""
    targets, costs = _targets(report)
    top = f'<div class="top"><div>{_header(report)}</div><div>{_totals(report)}</div></div>'
    body = top + targets + _comparison(report) + _layers(report) + costs
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Energy report: {escape(report['model'])}</title><style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")
