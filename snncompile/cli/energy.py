"""Operation counts and energy of an NIR model from simulated activity (or from a rates file).

    snncompile energy model.nir --data digits                    # lower for the cpu target, simulate, report
    snncompile energy model.nir --data digits --target loihi1 --target my-chip.toml --html report.html
    snncompile energy --rates rates.json [model.nir]             # analytical: firing rates from a file

Counts are measured from the recorded activity of every sample; energies use each target description's
per-operation costs (bundled: see --target). Reports: terminal tables, --json, --markdown, --html.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from snncompile.cli.simulate import add_data_arguments, simulate_data
from snncompile.energy.analytical import estimate, read_rates
from snncompile.energy.count import count
from snncompile.energy.model import INTEGER_INPUTS
from snncompile.energy.render_text import energy_text, markdown, print_report
from snncompile.energy.report import REFERENCE, build_report
from snncompile.errors import SnnError
from snncompile.files import write_text
from snncompile.ir import Graph
from snncompile.ir.nir_io import read_nir
from snncompile.passes.registry import TARGET_OPS, pipeline, run_pipeline
from snncompile.targets.description import bundled, load_description

HELP = "synaptic operations and energy per target, from simulated activity"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="an NIR file (.nir)")
    add_data_arguments(p)
    p.add_argument("--target", action="append", metavar="NAME|FILE.toml",
                   help=f"hardware description (repeatable; default: all bundled: {', '.join(bundled())})")
    p.add_argument("--integer-inputs", choices=INTEGER_INPUTS, default="ac",
                   help="cost integer (spike-count) inputs as their value in accumulates (ac) or as one MAC each")
    p.add_argument("--no-lower", action="store_true", help="count the graph as given (default: cpu pipeline first)")
    p.add_argument("--rates", metavar="FILE.json", help="analytical mode: firing rates from a rates file")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON (schema snncompile.energy/1)")
    p.add_argument("--markdown", metavar="FILE", help="write the report as Markdown")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report with plots")


def _lowered(graph: Graph, no_lower: bool) -> tuple[Graph, list[str]]:
    if no_lower or {node.op for node in graph.nodes.values()} <= TARGET_OPS["cpu"]:
        return graph, []
    graph, steps = run_pipeline(graph, pipeline("cpu"))
    return graph, [s.spec for s in steps if s.changed]


def _analytical(args: argparse.Namespace) -> None:
    raw = read_rates(args.rates)
    graph = read_nir(args.file) if args.file else None
    if graph is not None:
        graph, _ = _lowered(graph, args.no_lower)
    est = estimate(raw, load_description(REFERENCE), graph)
    print(f"{est.convention} convention (analytical, {REFERENCE}): {energy_text(est.energy_pj)} per sample; "
          f"SOPs {est.sops:,.0f}; first layer {energy_text(est.first_layer_pj)}; {est.formula}")
    if args.json:
        write_text(args.json, json.dumps(vars(est), indent=1) + "\n")


def run(args: argparse.Namespace) -> None:
    if args.rates:
        _analytical(args)
        return
    if not args.file:
        raise SnnError("give an NIR file (or --rates FILE.json for the analytical mode)")
    targets = [load_description(t) for t in (args.target or bundled())]
    graph, lowering = _lowered(read_nir(args.file), args.no_lower)
    result, _ = simulate_data(graph, args)
    report = build_report(count(graph, result.activity), targets, model=args.file, data=args.data,
                          accuracy=result.accuracy, lowering=lowering, integer_inputs=args.integer_inputs)
    outputs = {args.json: lambda: json.dumps(report, indent=1) + "\n", args.markdown: lambda: markdown(report)}
    if args.html:
        from snncompile.energy.render_html import render_html

        outputs[args.html] = lambda: render_html(report)
    for path, render in outputs.items():
        if path:
            write_text(path, render())
    print_report(report, Console(width=160))
