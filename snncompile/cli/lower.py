"""Run passes on an NIR file, e.g. --passes fold-batchnorm,ssa-to-binary-matmul{order=auto}.

Quote a spec with options (--passes 'a{x=1,y=2}'), or the shell splits it at the braces. --explain prints why
each pass left nodes alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from snncompile import api
from snncompile.cli.options import Once, add_file, check_outputs, name, read_graph
from snncompile.errors import SnnError
from snncompile.passes.registry import PASSES

HELP = "run passes on an NIR file"


def add_common(p: argparse.ArgumentParser, output: str = "OUT.nir",
               what: str = "the lowered .nir file to write") -> None:
    """Arguments shared by ``lower`` and ``compile``."""
    add_file(p)
    p.add_argument("-o", "--output", required=True, type=name, metavar=output, help=what)
    p.add_argument("--dump-after", metavar="PASS", type=name,
                   help="also write the graph after PASS, as DIR/<index>-<PASS>.nir")
    p.add_argument("--dump-dir", metavar="DIR", type=name,
                   help="folder for --dump-after files (default: the output's folder)")
    p.add_argument("--explain", action="store_true", help="print every refusal: pass, node, reason")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--passes", required=True, metavar="SPEC", action=Once,
                   help=f"comma-separated passes, each NAME or NAME{{key=value,...}} (quoted); passes: "
                   f"{', '.join(PASSES)}")


def dump_dir(args: argparse.Namespace) -> Path:
    """The folder of --dump-after files: --dump-dir (an existing folder), else the output's folder."""
    if args.dump_dir is None:
        return Path(args.output).parent
    if args.dump_after is None:
        raise SnnError("--dump-dir applies only with --dump-after PASS (it names the folder of those files)")
    folder = Path(args.dump_dir)
    if not folder.is_dir():
        raise SnnError(f"--dump-dir {folder}: " + ("not a folder" if folder.exists() else "no such folder"))
    return folder


def print_steps(lowered: api.Lowered, explain: bool) -> None:
    """One line per pass (what it changed), and with ``explain`` one line per refusal."""
    for step in lowered.steps:
        what = "changed" if step.changed else "unchanged"
        print(f"{step.spec}: {what}, {step.nodes_before} -> {step.nodes_after} nodes, {len(step.refusals)} refused")
        if explain:
            for refusal in step.refusals:
                print(f"  {refusal}")


def print_written(compiled: api.Compiled) -> None:
    """One line per file written; an NIR file's with its nodes and edges."""
    graph = compiled.lowered.graph
    for path in compiled.files:
        sizes = f": {len(graph.nodes)} nodes, {len(graph.edges)} edges" if path.suffix == ".nir" else ""
        print(f"wrote {path}{sizes}")


def run(args: argparse.Namespace) -> None:
    check_outputs([args.output])
    lowered = api.run_passes(read_graph(args), args.passes, dump_after=args.dump_after, dump_dir=dump_dir(args))
    print_steps(lowered, args.explain)
    print_written(api.deploy(lowered, args.output))
