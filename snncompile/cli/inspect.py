"""Show what an NIR file holds: nodes, types, shapes, parameters, neurons, synapses."""

from __future__ import annotations

import argparse
import json

from snncompile.cli.options import add_file, console, read_graph
from snncompile.ir.stats import node_stats
from snncompile.tables import print_table

HELP = "table of an NIR file's nodes"
COUNTS = ("params", "neurons", "synapses")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> None:
    graph = read_graph(args)
    rows = node_stats(graph)
    totals = {k: sum(getattr(r, k) for r in rows) for k in COUNTS}
    if args.json:
        print(json.dumps({"file": args.file, "dt": graph.dt, "metadata": dict(graph.metadata),
                          "nodes": [{"name": r.name, "op": r.op, "kind": str(r.type.kind), "shape": list(r.type.shape),
                                     "params": r.params, "neurons": r.neurons, "synapses": r.synapses} for r in rows],
                          "totals": totals}, indent=2))
        return
    cells: list[list[str] | None] = [[r.name, r.op, str(r.type), *(f"{getattr(r, k):,}" for k in COUNTS)]
                                     for r in rows]
    cells += [None, ["total", "", "", *(f"{totals[k]:,}" for k in COUNTS)]]
    print_table(console(), f"{args.file}  (dt = {graph.dt:g}, {len(rows)} nodes, {len(graph.edges)} edges)",
                ["node", "op", "output", *COUNTS], cells, numeric={3, 4, 5})
