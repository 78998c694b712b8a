"""Operation counts and energy of an NIR model from simulated activity (or from a rates file).

    snncompile energy model.nir --data digits                    # lower for the cpu target, simulate, report
    snncompile energy model.nir --data digits --target loihi1 --target my-chip.toml --html report.html
    snncompile energy --rates rates.json [model.nir] [--json r.json]   # analytical: firing rates from a file

Counts are measured from the recorded activity of every sample; energies use each target description's
per-operation costs (bundled: see --target). Reports: terminal tables, --json, --markdown, --html.
The analytical mode (--rates) takes only FILE.nir, --dt, --no-lower and --json; it refuses the measured mode's
options.
"""

from __future__ import annotations

import argparse
import json

from snncompile.cli.options import add_file, check_outputs, console, name, read_graph
from snncompile.cli.simulate import DATA_OPTIONS, add_data_arguments, simulate_data
from snncompile.energy.analytical import estimate, read_rates
from snncompile.energy.count import count
from snncompile.energy.model import INTEGER_INPUTS
from snncompile.energy.render_text import energy_text, markdown, print_report
from snncompile.energy.report import REFERENCE, build_report
from snncompile.errors import SnnError
from snncompile.files import write_text
from snncompile.ir import Graph
from snncompile.passes.registry import TARGET_OPS, pipeline, run_pipeline
from snncompile.targets.description import bundled, load_description

HELP = "synaptic operations and energy per target, from simulated activity"
MEASURED_ONLY = DATA_OPTIONS + ("--target", "--integer-inputs", "--markdown", "--html")
"""Options of the measured mode that the analytical mode (--rates) refuses rather than ignores."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file(p, nargs="?")
    add_data_arguments(p)
    p.add_argument("--target", action="append", metavar="NAME|FILE.toml", type=name,
                   help=f"hardware description, repeatable (default: every bundled one: {', '.join(bundled())})")
    p.add_argument("--integer-inputs", choices=INTEGER_INPUTS, help="cost integer (spike-count) inputs as their "
                   "value in accumulates (ac) or as one MAC each (default: ac)")
    p.add_argument("--no-lower", action="store_true", help="count the graph as given (default: cpu pipeline first)")
    p.add_argument("--rates", metavar="FILE.json", type=name, help="analytical mode: firing rates from a rates file")
    p.add_argument("--json", metavar="FILE", type=name, help="write the report as JSON (schema snncompile.energy/1)")
    p.add_argument("--markdown", metavar="FILE", type=name, help="write the report as Markdown")
    p.add_argument("--html", metavar="FILE", type=name, help="write a self-contained HTML report with plots")


def _lowered(graph: Graph, no_lower: bool) -> tuple[Graph, list[str]]:
    if no_lower or {node.op for node in graph.nodes.values()} <= TARGET_OPS["cpu"]:
        return graph, []
    graph, steps = run_pipeline(graph, pipeline("cpu"))
    return graph, [s.spec for s in steps if s.changed]


def _refuse_measured_options(args: argparse.Namespace) -> None:
    given = [{"--steps": "-T/--steps"}.get(opt, opt) for opt in MEASURED_ONLY
             if getattr(args, opt[2:].replace("-", "_")) not in (None, False)]
    if given:
        raise SnnError(f"{', '.join(given)}: only for the measured mode (FILE.nir --data ...); the analytical mode "
                       "(--rates) takes FILE.nir, --dt, --no-lower and --json")
    needs_file = [opt for opt, given in (("--dt", args.dt is not None), ("--no-lower", args.no_lower)) if given]
    if args.file is None and needs_file:
        raise SnnError(f"{', '.join(needs_file)}: only with FILE.nir, and --rates was given none "
                       "(energy --rates RATES.json FILE.nir)")


def _analytical(args: argparse.Namespace) -> None:
    _refuse_measured_options(args)
    check_outputs([args.json])
    raw = read_rates(args.rates)
    graph = _lowered(read_graph(args), args.no_lower)[0] if args.file else None
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
    check_outputs([args.json, args.markdown, args.html])
    targets = [load_description(t) for t in (args.target or bundled())]
    graph, lowering = _lowered(read_graph(args), args.no_lower)
    result, _ = simulate_data(graph, args)
    report = build_report(count(graph, result.activity), targets, model=args.file, data=args.data,
                          accuracy=result.accuracy, lowering=lowering, integer_inputs=args.integer_inputs or "ac")
    renders = {args.json: lambda: json.dumps(report, indent=1) + "\n", args.markdown: lambda: markdown(report)}
    if args.html:
        from snncompile.energy.render_html import render_html

        renders[args.html] = lambda: render_html(report)
    texts = {path: render() for path, render in renders.items() if path}  # every report rendered before any is written
    for path, text in texts.items():
        write_text(path, text)
    print_report(report, console())
