"""Trace a trained PyTorch model (checkpoint + zoo config or model factory) into an NIR file."""

from __future__ import annotations

import argparse
from pathlib import Path

from snncompile.cli.options import check_outputs, name, positive_int
from snncompile.errors import UnsupportedError
from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.ir import Kind
from snncompile.ir.nir_io import write_nir

HELP = "torch checkpoint -> NIR file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=name, help="a .pt file: {'config', 'state_dict', ...} or a bare state_dict")
    p.add_argument("-o", "--output", required=True, type=name, metavar="OUT.nir", help="the .nir file to write")
    p.add_argument("--config", type=name, metavar="NAME", help="zoo config name (default: the checkpoint's 'config')")
    p.add_argument("--model", metavar="FILE.py:FUNCTION", type=name,
                   help="build the model with this function (default: the zoo config)")
    p.add_argument("--input-shape", metavar="C,H,W",
                   help="per-sample input shape, e.g. 1,8,8 (default: the model's input_shape)")
    p.add_argument("-T", "--steps", type=positive_int, metavar="N", help="time steps of the traced run of a "
                   "multi-step model (default: the checkpoint's T, else the model's T attribute, else 4)")
    p.add_argument("--input-kind", choices=[k.value for k in (Kind.REAL, Kind.BINARY)],
                   help="what the input carries: real values (images) or binary events (spike trains, event-camera "
                   "frames), whose first layer the energy conventions cost as SOPs (default: real)")
    p.add_argument("--no-fold-bn", action="store_true", help="keep BatchNorm nodes instead of folding them")


def _shape(args: argparse.Namespace, model: object, meta: dict) -> tuple[int, ...]:
    text = args.input_shape
    if text is None:
        shape = getattr(model, "input_shape", None) or meta.get("input_shape")
        if shape is None:
            raise UnsupportedError("the model has no input_shape attribute; pass --input-shape, e.g. 1,8,8")
        return tuple(int(s) for s in shape)
    try:
        shape = tuple(int(s) for s in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise UnsupportedError(f"--input-shape '{text}': expected comma-separated positive integers, e.g. 1,8,8")
    return shape


def run(args: argparse.Namespace) -> None:
    check_outputs([args.output])
    model, meta = load_model(args.checkpoint, config=args.config, factory=args.model)
    metadata: dict[str, object] = {"source": Path(args.checkpoint).name}
    steps = args.steps if args.steps is not None else int(meta["T"]) if "T" in meta else None
    if steps is not None:
        metadata["steps"] = steps
    if args.config or meta.get("config"):
        metadata["config"] = str(args.config or meta["config"])
    graph = trace(model, _shape(args, model, meta), input_kind=args.input_kind or Kind.REAL,
                  fold_bn=not args.no_fold_bn, metadata=metadata, steps=steps)
    write_nir(graph, args.output)
    print(f"wrote {args.output}: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
