"""Passes by name, the ``--passes`` syntax, and running a pipeline (each target plugin names its own pipeline:
``snncompile.targets.target.Target.pipeline``).

Syntax (command line, pipelines, targets alike): passes separated by commas, each ``name`` or
``name{key=value,key=value}``; a value is parsed to the type of the pass's dataclass field (``int``, ``float``,
``bool`` as ``true``/``false``, ``str``). Example: ``fold-batchnorm,maxpool-spikes``.

The registry is lazy: a name maps to a loader, so a pass's module (and whatever it imports) is loaded only when a
pipeline uses it.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from snncompile.errors import SnnError, one_line
from snncompile.ir import Graph
from snncompile.ir.nir_io import write_nir
from snncompile.passes.base import Pass, Refusal


def _lazy(module: str, cls: str) -> Callable[[], type[Pass]]:
    """A loader that imports ``snncompile.passes.<module>`` only when called and returns its pass class."""
    return lambda: getattr(importlib.import_module(f"snncompile.passes.{module}"), cls)


PASSES: Mapping[str, Callable[[], type[Pass]]] = {
    "fold-batchnorm": _lazy("fold_batchnorm", "FoldBatchNorm"),
    "ssa-to-binary-matmul": _lazy("ssa_to_binary_matmul", "SsaToBinaryMatmul"),
    "maxpool-spikes": _lazy("maxpool_spikes", "MaxPoolSpikes"),
    "mixer-to-fixed-synapses": _lazy("mixer_to_fixed_synapses", "MixerToFixedSynapses"),
    "graded-to-binary": _lazy("graded_to_binary", "GradedToBinary"),
    "qk-attention-to-masks": _lazy("qk_attention_to_masks", "QKAttentionToMasks"),
    "dssa-to-binary-matmul": _lazy("dssa_to_binary_matmul", "DSSAToBinaryMatmul"),
    "token-masks": _lazy("token_masks", "TokenMasks"),
    "tokens-to-vectors": _lazy("tokens_to_vectors", "TokensToVectors"),
    "quantize": _lazy("quantize", "Quantize"),
}

QUOTE_HINT = ("; quote the pass spec so that the shell does not expand its braces, e.g. --passes 'a{x=1,y=2}' "
              "(unquoted, bash turns a{x=1,y=2} into two words, ax=1 ay=2)")
"""Appended to the errors that a pass spec split by the shell's brace expansion causes."""
_ITEM = re.compile(r"\s*([A-Za-z0-9_-]+)\s*(?:\{([^{}]*)\})?\s*(,|$)")
_BOOLS = {"true": True, "false": False}


def _bool(text: str) -> bool:
    if text.lower() not in _BOOLS:
        raise ValueError(f"expected true or false, got {text!r}")
    return _BOOLS[text.lower()]


_PARSERS: Mapping[type, Callable[[str], object]] = {int: int, float: float, bool: _bool, str: str}


def options(cls: type[Pass]) -> dict[str, type]:
    """A pass's options: field name -> type."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _describe(cls: type[Pass]) -> str:
    opts = options(cls)
    return ", ".join(f"{k}: {t.__name__}" for k, t in opts.items()) or "none"


def _configure(name: str, body: str | None, available: Mapping[str, Callable[[], type[Pass]]]) -> Pass:
    if name not in available:
        raise SnnError(f"unknown pass '{name}' (passes: {', '.join(available)})")
    cls = available[name]()
    opts = options(cls)
    values: dict[str, object] = {}
    for item in filter(None, (s.strip() for s in (body or "").split(","))):
        key, eq, text = (s.strip() for s in item.partition("="))
        if not eq:
            raise SnnError(f"pass '{name}': expected key=value, got '{item}'")
        if key not in opts:
            raise SnnError(f"pass '{name}' has no option '{key}' (options: {_describe(cls)})")
        if key in values:
            raise SnnError(f"pass '{name}': option '{key}' given twice")
        try:
            values[key] = _PARSERS[opts[key]](text)
        except ValueError as err:
            raise SnnError(f"pass '{name}' option '{key}': '{text}' is not of type {opts[key].__name__} "
                           f"({one_line(err)})") from None
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values and f.default is dataclasses.MISSING]
    if missing:
        raise SnnError(f"pass '{name}' needs option(s) {', '.join(missing)} (options: {_describe(cls)})")
    return cls(**values)


def parse_passes(text: str, available: Mapping[str, Callable[[], type[Pass]]] = PASSES) -> list[Pass]:
    """``a,b{k=v}`` -> configured passes, in order. Raises SnnError (one line) on any mistake."""
    passes, pos = [], 0
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if m is None or m.end() == pos:
            hint = QUOTE_HINT if "=" in text and "{" not in text else ""
            raise SnnError(f"cannot parse passes '{text}' at position {pos}: expected NAME or NAME{{key=value,...}}"
                           f"{hint}")
        passes.append(_configure(m.group(1), m.group(2), available))
        pos = m.end()
    if not passes:
        raise SnnError("no passes given (passes: " + ", ".join(available) + ")")
    return passes


def pipeline(target: str, chip: str | None = None) -> list[Pass]:
    """The pipeline of target plugin ``target`` for ``chip`` (default: the target's default chip), configured."""
    from snncompile.targets.plugins import load_target

    plugin = load_target(target)
    return parse_passes(",".join(plugin.pipeline(plugin.chip(chip))))


@dataclasses.dataclass(frozen=True)
class Step:
    """What one pass of a pipeline did."""

    spec: str
    changed: bool
    nodes_before: int
    nodes_after: int
    refusals: tuple[Refusal, ...]


def run_pipeline(graph: Graph, passes: Sequence[Pass], dump_after: str | None = None,
                 dump_dir: str | Path = ".") -> tuple[Graph, list[Step]]:
    """Run ``passes`` in order (each verified). After each pass named ``dump_after``, write the graph to
    ``dump_dir/<index>-<pass>.nir`` (index counts from 1)."""
    names = [p.name for p in passes]
    if dump_after is not None and dump_after not in names:
        raise SnnError(f"--dump-after '{dump_after}' is not in the pipeline (passes: {', '.join(names)})")
    report = []
    for i, p in enumerate(passes, 1):
        result = p.run(graph)
        report.append(Step(p.spec(), result.changed, len(graph.nodes), len(result.graph.nodes), result.refusals))
        graph = result.graph
        if p.name == dump_after:
            write_nir(graph, Path(dump_dir) / f"{i:02d}-{p.name}.nir")
    return graph, report
