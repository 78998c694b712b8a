"""Simulate an NIR file on a data set: accuracy and per-layer firing rates (reference simulator)."""

from __future__ import annotations

import argparse
import json
import sys

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from snncompile.errors import SnnError
from snncompile.ir import Graph
from snncompile.ir.nir_io import read_nir
from snncompile.sim.datasets import NAMES, load_dataset
from snncompile.sim.evaluate import Evaluation, evaluate

HELP = "accuracy and firing rates of an NIR file on a data set"


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments for simulating a data set, shared by ``simulate`` and ``energy``."""
    p.add_argument("--data", help=f"{' | '.join(NAMES)} | FILE.npz (arrays x [N, ...], y [N])")
    p.add_argument("-T", "--steps", type=int, help="time steps (default: the file's 'steps' metadata)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--limit", type=int, help="use only the first N samples")
    p.add_argument("--float32", action="store_true", help="simulate in float32 instead of float64")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="an NIR file (.nir)")
    add_data_arguments(p)
    p.add_argument("--dt", type=float, help="simulation step for files that store none")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def simulate_data(graph: Graph, args: argparse.Namespace, quiet: bool = False) -> tuple[Evaluation, int]:
    """Simulate ``graph`` on ``args.data`` with a progress bar on a terminal; the evaluation and the steps used."""
    if not args.data:
        raise SnnError("no data to simulate: pass --data")
    steps = args.steps or graph.metadata.get("steps")
    if steps is None:
        raise SnnError(f"{args.file} stores no number of time steps; pass -T")
    x, y = load_dataset(args.data)
    if args.limit is not None:
        x, y = x[:args.limit], y[:args.limit]
    dtype = torch.float32 if args.float32 else torch.float64
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=quiet or not sys.stderr.isatty()) as bar:
        task = bar.add_task("simulating", total=len(x))
        result = evaluate(graph, x, y, int(steps), batch_size=args.batch_size, dtype=dtype,
                          progress=lambda k: bar.advance(task, k))
    return result, int(steps)


def run(args: argparse.Namespace) -> None:
    graph = read_nir(args.file, dt=args.dt)
    result, steps = simulate_data(graph, args, quiet=args.json)
    rates = result.activity.firing_rates()
    if args.json:
        print(json.dumps({"file": args.file, "data": args.data, "steps": int(steps), "samples": result.total,
                          "accuracy": result.accuracy, "firing_rates": rates}, indent=2))
        return
    out = Console(width=120)
    table = Table(title="firing rates", caption=f"spikes per neuron per step; T = {steps}, {result.total} samples")
    table.add_column("layer")
    table.add_column("neurons", justify="right")
    table.add_column("rate", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{graph.types[name].size:,}", f"{rate:.4f}")
    out.print(table)
    out.print(f"accuracy: {result.accuracy:.4f} ({result.correct}/{result.total}) on {args.data}")
