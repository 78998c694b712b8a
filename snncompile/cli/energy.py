"""Operation counts and energy of an NIR model from simulated activity (or from a rates file).

    snncompile energy model.nir --data digits                    # lower for the cpu target, simulate, report
    snncompile energy model.nir --data digits --chip loihi1 --chip my-chip.toml --html report.html
    snncompile energy model.nir --data digits --target lava          # every chip of the lava target
    snncompile energy --rates rates.json [model.nir] [--json r.json]   # analytical: firing rates from a file

Counts are measured from the recorded activity of every sample (after the cpu pipeline); energies use each chip
description's per-operation costs (see --chip). Reports: terminal tables, --json, --markdown, --html.
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
from snncompile.passes.registry import pipeline, run_pipeline
from snncompile.targets.chips import chip_names, load_chip
from snncompile.targets.description import Description, bundled, load_description
from snncompile.targets.plugins import load_target, target_names

HELP = "synaptic operations and energy per target, from simulated activity"
MEASURED_ONLY = DATA_OPTIONS + ("--target", "--chip", "--integer-inputs", "--markdown", "--html")
"""Options of the measured mode that the analytical mode (--rates) refuses rather than ignores."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file(p, nargs="?")
    add_data_arguments(p)
    p.add_argument("--chip", action="append", metavar="NAME|FILE.toml", type=name,
                   help=f"a chip whose per-operation costs price the counts, or a chip description file; repeatable "
                   f"(default: every chip of --target, else every known one: {', '.join(bundled())})")
    p.add_argument("--target", choices=target_names(), help="price on this target's chips only (default: any "
                   "target's, and the energy-only chips, which no target compiles for yet)")
    p.add_argument("--integer-inputs", choices=INTEGER_INPUTS, help="cost integer (spike-count) inputs as their "
                   "value in accumulates (ac) or as one MAC each (default: ac)")
    p.add_argument("--no-lower", action="store_true", help="count the graph as given (default: cpu pipeline first)")
    p.add_argument("--rates", metavar="FILE.json", type=name, help="analytical mode: firing rates from a rates file")
    p.add_argument("--json", metavar="FILE", type=name, help="write the report as JSON (schema snncompile.energy/1)")
    p.add_argument("--markdown", metavar="FILE", type=name, help="write the report as Markdown")
    p.add_argument("--html", metavar="FILE", type=name, help="write a self-contained HTML report with plots")


def _lowered(graph: Graph, no_lower: bool) -> tuple[Graph, list[str]]:
    if no_lower or {node.op for node in graph.nodes.values()} <= load_target("cpu").accepts:
        return graph, []
    graph, steps = run_pipeline(graph, pipeline("cpu"))
    return graph, [s.spec for s in steps if s.changed]


def _descriptions(target: str | None, chips: list[str] | None) -> list[Description]:
    """The energy descriptions of ``chips`` (each checked to belong to ``target`` when given), or of every chip of
    ``target``, or of every known chip."""
    if chips:
        for chip in chips if target else []:
            load_chip(chip, target)  # refuses a chip of another target
        return [load_description(chip) for chip in chips]
    names = bundled() if target is None else [c for c in chip_names(target) if c in bundled()]
    return [load_description(chip) for chip in names]


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
    targets = _descriptions(args.target, args.chip)
    graph, lowering = _lowered(read_graph(args), args.no_lower)
    result, _, graph = simulate_data(graph, args)  # with --fixed-point: the graph lowered for that chip
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
