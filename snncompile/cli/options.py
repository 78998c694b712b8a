"""What every command shares: argument types that refuse bad values at parse time, reading the graph (``--dt`` and
the time-step check), checking output paths before the work, and the console that tables are printed on (at the
terminal's width; snncompile.tables)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable

from rich.console import Console

from snncompile.files import check_output
from snncompile.ir import Graph
from snncompile.ir.nir_io import read_nir
from snncompile.ir.timestep import warn_coarse_step

PIPE_WIDTH = 120
"""Table width when stdout is not a terminal (a file, a pipe) and COLUMNS is not set."""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'")
    return value


def name(text: str) -> str:
    """An argparse type: a non-empty file name or name (an empty one is a mistake, e.g. an unset shell variable)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty value; expected a file name or a name")
    return text


def add_file(p: argparse.ArgumentParser, nargs: str | None = None) -> None:
    """The NIR file argument and ``--dt``."""
    p.add_argument("file", nargs=nargs, type=name, help="an NIR file (.nir)")
    p.add_argument("--dt", type=positive_float, help="time step of the simulation (default: the one the file stores; "
                   "NIR files by other tools store none, so pass it, in the unit of their time constants)")


def add_target(p: argparse.ArgumentParser, required: bool = False) -> None:
    """``--target NAME`` (an installed target plugin) and ``--chip NAME|FILE.toml`` (one of its chips)."""
    from snncompile.targets.chips import chip_names
    from snncompile.targets.plugins import target_names

    names = target_names()
    chips = "; ".join(f"{t}: {', '.join(chip_names(t))}" for t in names if chip_names(t))
    p.add_argument("--target", required=required, choices=names, action=Once,
                   help=f"the target: {', '.join(names)} ('snncompile targets' says what each takes)")
    p.add_argument("--chip", metavar="NAME|FILE.toml", type=name, action=Once,
                   help=f"the target's chip or a chip description file ({chips}) (default: the target's default "
                   "chip, which 'snncompile targets' names)")


def read_graph(args: argparse.Namespace) -> Graph:
    """``args.file`` read with ``args.dt``; warns when dt is not small against a neuron's time constant."""
    graph = read_nir(args.file, dt=args.dt)
    warn_coarse_step(graph, args.file)
    return graph


def check_outputs(paths: Iterable[str | None]) -> None:
    """Refuse, before any work, output paths that cannot be written (missing folder, a folder given as a file)."""
    for path in paths:
        if path is not None:
            check_output(path)


class _Console(Console):
    """A rich Console that leaves a closed pipe to ``main`` (rich itself would exit with code 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def console() -> Console:
    """The console for stdout: the terminal's width on a terminal (or COLUMNS), else ``PIPE_WIDTH``."""
    fixed = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return _Console(width=PIPE_WIDTH if fixed else None)


class Once(argparse.Action):
    """Store an option's value; refuse the option given twice (the later value would silently win)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        if getattr(namespace, self.dest) is not None:
            raise argparse.ArgumentError(self, f"given twice ('{getattr(namespace, self.dest)}' and '{values}')")
        setattr(namespace, self.dest, values)
