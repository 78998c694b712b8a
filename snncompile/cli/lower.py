"""Run passes on an NIR file, e.g. --passes fold-batchnorm,ssa-to-binary-matmul{order=auto}.

Quote a spec with options (--passes 'a{x=1,y=2}'), or the shell splits it at the braces. --explain prints why
each pass left nodes alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from snncompile.cli.options import Once, add_file, check_outputs, name, read_graph
from snncompile.errors import SnnError
from snncompile.ir import verify
from snncompile.ir.nir_io import write_nir
from snncompile.passes.base import Pass
from snncompile.passes.registry import PASSES, check_target, parse_passes, run_pipeline

HELP = "run passes on an NIR file"


def add_common(p: argparse.ArgumentParser) -> None:
    """Arguments shared by ``lower`` and ``compile``."""
    add_file(p)
    p.add_argument("-o", "--output", required=True, type=name, metavar="OUT.nir", help="the lowered .nir file to write")
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


def _dump_dir(args: argparse.Namespace) -> Path:
    if args.dump_dir is None:
        return Path(args.output).parent
    if args.dump_after is None:
        raise SnnError("--dump-dir applies only with --dump-after PASS (it names the folder of those files)")
    folder = Path(args.dump_dir)
    if not folder.is_dir():
        raise SnnError(f"--dump-dir {folder}: " + ("not a folder" if folder.exists() else "no such folder"))
    return folder


def lower(args: argparse.Namespace, passes: list[Pass], target: str | None = None) -> None:
    """Read ``args.file``, run ``passes``, report, check the result against ``target``'s ops, write ``args.output``."""
    check_outputs([args.output])
    dump_dir = _dump_dir(args)
    graph, report = run_pipeline(read_graph(args), passes, dump_after=args.dump_after, dump_dir=dump_dir)
    for step in report:
        what = "changed" if step.changed else "unchanged"
        print(f"{step.spec}: {what}, {step.nodes_before} -> {step.nodes_after} nodes, "
              f"{len(step.refusals)} refused")
        if args.explain:
            for refusal in step.refusals:
                print(f"  {refusal}")
    if target is not None:
        check_target(graph, target)
    verify(graph)
    write_nir(graph, args.output)
    print(f"wrote {args.output}: {len(graph.nodes)} nodes, {len(graph.edges)} edges")


def run(args: argparse.Namespace) -> None:
    lower(args, parse_passes(args.passes))
