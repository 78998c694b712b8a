"""Compile an NIR file for a target: the target's pipeline of passes for the chip, the check against the chip
(ops it takes, resources), then the target's artefacts.

    snncompile compile model.nir --target cpu -o lowered.nir            # the lowered graph, for the simulator
    snncompile compile model.nir --target nir -o standard.nir           # NIR 1.0 standard primitives only
    snncompile compile model.nir --target lava --chip loihi2 -o out/    # Loihi through Lava (a folder)

'snncompile targets' lists the targets and their chips; 'snncompile check' explains a graph that does not fit.
"""

from __future__ import annotations

import argparse

from snncompile import api
from snncompile.cli.lower import add_common, dump_dir, print_steps, print_written
from snncompile.cli.options import add_target, read_graph

HELP = "lower, check and emit an NIR file for a target and chip"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p, output="OUT", what="what to write: OUT.nir for the cpu and nir targets, a folder for lava")
    add_target(p, required=True)


def run(args: argparse.Namespace) -> None:
    api.check_output_path(args.target, args.output)
    folder = dump_dir(args)
    lowered = api.lower(read_graph(args), args.target, args.chip, dump_after=args.dump_after, dump_dir=folder)
    print_steps(lowered, args.explain)
    print_written(api.deploy(lowered, args.output))
