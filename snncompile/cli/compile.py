"""Lower an NIR file for a target with the target's named pipeline of passes."""

from __future__ import annotations

import argparse

from snncompile.cli.lower import add_common, lower
from snncompile.passes.registry import PIPELINES, pipeline

HELP = "lower an NIR file for a target (its named pipeline)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--target", required=True, choices=PIPELINES,
                   help=f"the target whose pipeline to run: {', '.join(PIPELINES)}")


def run(args: argparse.Namespace) -> None:
    lower(args, pipeline(args.target), args.target)
