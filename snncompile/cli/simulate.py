"""Simulate an NIR file on a data set: accuracy and per-layer firing rates (reference simulator)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import torch
from rich.console import Console
from rich.progress import Progress

from snncompile.cli.options import add_file, console, name, positive_int, read_graph
from snncompile.errors import SnnError
from snncompile.ir import Graph
from snncompile.sim import fixed_point
from snncompile.sim.datasets import NAMES, load_dataset
from snncompile.sim.evaluate import Evaluation, evaluate, resolve_steps
from snncompile.tables import print_table

HELP = "accuracy and firing rates of an NIR file on a data set"
BATCH_SIZE = 256
DATA_OPTIONS = ("--data", "--steps", "--batch-size", "--limit", "--float32", "--fixed-point")
"""The options ``add_data_arguments`` adds (``-T`` is ``--steps``)."""


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments for simulating a data set, shared by ``simulate`` and ``energy``."""
    p.add_argument("--data", type=name, metavar="NAME|FILE.npz", help=f"{' | '.join(NAMES)} | FILE.npz: array x of "
                   "static samples [N, *input shape] (fed at every step) or time-varying ones [N, T, *input shape], "
                   "and optional integer labels y [N] (without labels: firing rates, no accuracy)")
    p.add_argument("-T", "--steps", type=positive_int, metavar="N", help="time steps (default: the data's T for "
                   "time-varying data, else the file's 'steps' metadata)")
    p.add_argument("--batch-size", type=positive_int, metavar="N",
                   help=f"samples simulated at once (default: {BATCH_SIZE})")
    p.add_argument("--limit", type=positive_int, metavar="N", help="use only the first N samples (default: all)")
    p.add_argument("--float32", action="store_true", help="simulate in float32 instead of float64")
    p.add_argument("--fixed-point", choices=fixed_point.CHIPS, metavar="CHIP", help="simulate the graph lowered "
                   f"for this chip's integer arithmetic by the lava target's pipeline ({' | '.join(fixed_point.CHIPS)}"
                   "; docs/fixed-point.md) (default: the graph as given, in float)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file(p)
    add_data_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def simulate_data(graph: Graph, args: argparse.Namespace, quiet: bool = False) -> tuple[Evaluation, int, Graph]:
    """Simulate ``graph`` on ``args.data`` with a progress bar on a terminal; the evaluation, the steps used and
    the graph simulated (with ``--fixed-point``: lowered for that chip, data of 0/1 events read as spikes)."""
    if not args.data:
        raise SnnError(f"no data to simulate: pass --data {' or --data '.join(NAMES)} or --data FILE.npz")
    x, y = load_dataset(args.data)
    if args.limit is not None:
        if args.limit > len(x):
            warnings.warn(f"--limit {args.limit}: {args.data} holds {len(x)} samples; using all of them",
                          stacklevel=2)
        x, y = x[:args.limit], None if y is None else y[:args.limit]
    if args.fixed_point:
        graph, lowering = fixed_point.lower(graph, args.fixed_point, fixed_point.spike_data(x))
        left = fixed_point.left_in_float(lowering)
        if left:
            warnings.warn(f"--fixed-point {args.fixed_point}: {left}", stacklevel=2)
    try:
        steps = resolve_steps(graph, x, args.steps)
    except SnnError as err:
        raise SnnError(f"{args.file} on {args.data}: {err}") from None
    dtype = torch.float32 if args.float32 else torch.float64
    with Progress(console=Console(stderr=True), transient=True, disable=quiet or not sys.stderr.isatty()) as bar:
        task = bar.add_task("simulating", total=len(x))
        result = evaluate(graph, x, y, steps, batch_size=args.batch_size or BATCH_SIZE, dtype=dtype,
                          progress=lambda k: bar.advance(task, k))
    return result, steps, graph


def run(args: argparse.Namespace) -> None:
    result, steps, graph = simulate_data(read_graph(args), args, quiet=args.json)
    rates = result.activity.firing_rates()
    fixed = {"chip": args.fixed_point, "layers": dict(graph.metadata.get("quantize", {})),
             "input_overflow": fixed_point.input_overflow(graph, result.activity)} if args.fixed_point else None
    if args.json:
        print(json.dumps({"file": args.file, "data": args.data, "steps": steps, "samples": result.total,
                          "accuracy": result.accuracy, "correct": result.correct, "firing_rates": rates,
                          **({"fixed_point": fixed} if fixed else {})}, indent=2))
        return
    out = console()
    print_table(out, "firing rates", ["layer", "neurons", "rate"],
                [[layer, f"{graph.types[layer].size:,}", f"{rate:.4f}"] for layer, rate in rates.items()],
                numeric={1, 2}, caption=f"spikes per neuron per step; T = {steps}, {result.total} samples")
    if fixed:
        print_table(out, f"fixed-point layers ({args.fixed_point})", fixed_point.LAYER_COLUMNS,
                    fixed_point.layer_rows(graph, result.activity), numeric={1, 2, 3, 5, 6, 8},
                    caption="exact: where Loihi's integers equal the scaled float model; input > 16 bit: the "
                    "neuron-steps whose input leaves Loihi's 16-bit dendritic input (docs/fixed-point.md)")
    if result.accuracy is None:
        out.print(f"accuracy: not measured ({args.data} has no labels y)")
    else:
        out.print(f"accuracy: {result.accuracy:.4f} ({result.correct}/{result.total}) on {args.data}")
