"""Does an NIR file, lowered by a target's pipeline, go onto the target's chip; and if not, why. Writes nothing.

    snncompile check model.nir --target lava --chip loihi1
    snncompile check model.nir --target nir                      # ops only: NIR has no chips

Prints the resource report (for targets with cores: every layer's neurons, cores, synapses, synaptic memory, and
the limit that bounds its cores; then cores and chips), then every problem, one per line: a node the target does
not take, or a resource a neuron exceeds. Exit code 0 when it fits, 2 when it does not.
"""

from __future__ import annotations

import argparse
import json

from snncompile import api
from snncompile.cli.options import add_file, add_target, console, read_graph
from snncompile.errors import SnnError
from snncompile.tables import print_table
from snncompile.targets.resources import HEADER, layer_rows, off_core_text, placement_json, summary

HELP = "does a model fit a target's chip; if not, why (writes nothing)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file(p)
    add_target(p, required=True)
    p.add_argument("--json", action="store_true", help="print the report as JSON (schema snncompile.check/1)")


def _json(args: argparse.Namespace, checked: api.Checked) -> str:
    lowered = checked.lowered
    return json.dumps({"schema": "snncompile.check/1", "file": args.file, "target": args.target,
                       "chip": lowered.chip.name if lowered.chip else None, "fits": checked.fits,
                       "passes": [s.spec for s in lowered.steps],
                       "problems": [{"node": p.node, "reason": p.reason} for p in checked.problems],
                       "resources": placement_json(checked.placement) if checked.placement else None}, indent=1)


def _text(args: argparse.Namespace, checked: api.Checked) -> None:
    placement, graph = checked.placement, checked.lowered.graph
    if placement is not None:
        print_table(console(), f"{args.file} on {args.target} / {placement.chip.name}", HEADER, layer_rows(placement),
                    numeric={2, 3, 4, 5}, caption=summary(placement))
        off = off_core_text(graph, placement)
        if off:
            print(off)
    if checked.fits:
        print(f"fits: {args.target} takes every node" + (f" and {placement.chip.name} holds them" if placement else ""))
        return
    print(f"does not fit: {len(checked.problems)} problem(s):")
    for problem in checked.problems:
        print(f"  {problem}")


def run(args: argparse.Namespace) -> None:
    checked = api.check(read_graph(args), args.target, args.chip)
    if args.json:
        print(_json(args, checked))
    else:
        _text(args, checked)
    if not checked.fits:
        where = f"{args.target} / {checked.lowered.chip.name}" if checked.lowered.chip else args.target
        raise SnnError(f"{args.file} does not fit {where}: {len(checked.problems)} problem(s)"
                       + ("" if args.json else ", listed above"))
