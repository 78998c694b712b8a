"""Passes by name, the ``--passes`` syntax, named pipelines per target, and running a pipeline.

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
from snncompile.ir import OPS, Graph
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
}

_CPU = ("fold-batchnorm", "maxpool-spikes", "ssa-to-binary-matmul", "qk-attention-to-masks", "dssa-to-binary-matmul",
        "mixer-to-fixed-synapses")
PIPELINES: Mapping[str, tuple[str, ...]] = {
    "cpu": _CPU,
    "nir": _CPU + ("tokens-to-vectors",),  # standard NIR 1.0 primitives only
}
"""Target -> the passes that lower a traced graph for it, each written in the ``--passes`` syntax."""

_HIGH_LEVEL = frozenset({"SpikingSelfAttention", "HeadSum", "TokenSum", "DSSAScore", "DSSAAggregate", "FourierMixer",
                         "WaveletMixer"})
TARGET_OPS: Mapping[str, frozenset[str]] = {
    "cpu": frozenset(OPS) - _HIGH_LEVEL,
    "nir": frozenset(op for op, cls in OPS.items() if cls.primitive) | {"Previous"},  # written as a cycle's edge
}
"""Target -> the node ops its pipeline's output may contain (checked by ``compile`` before anything is written)."""

_PRODUCTS = frozenset({"SpikeMatMul", "SpikeMask", "SpikingSelfAttention", "DSSAScore", "DSSAAggregate", "TokenMask"})
"""Ops that multiply two tensors computed by the network (spikes by spikes, or by a computed mask)."""
_SHOWN = 3  # node names shown per op kind in a refusal


def _nodes_of(graph: Graph, ops: Sequence[str]) -> str:
    """``Op xN (a, b, c, +k more)`` for each op kind of ``ops``, in that order."""
    parts = []
    for op in ops:
        names = [name for name, node in graph.nodes.items() if node.op == op]
        more = f", +{len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
        parts.append(f"{op} x{len(names)} ({', '.join(names[:_SHOWN])}{more})")
    return ", ".join(parts)


def _reason(target: str, op: str, folded: frozenset[str]) -> tuple[int, str]:
    """(rank, why ``target`` cannot take ``op``): the ops with no equivalent first."""
    if target != "nir":
        return 0, "are high-level nodes the pipeline did not lower (--explain gives each pass's reason)"
    if op in _PRODUCTS:
        return 0, "have no NIR equivalent (standard NIR has no product of two spike tensors)"
    if op in folded:
        return 2, ("are linear or layout nodes, which tokens-to-vectors folds into Affine weights only when every "
                   "other node is an NIR primitive (--explain gives its reason)")
    return 1, "have no NIR equivalent (no NIR 1.0 primitive computes them)"


def check_target(graph: Graph, target: str) -> None:
    """Raise one SnnError line when ``graph`` holds ops outside ``TARGET_OPS[target]``: every such op kind with its
    nodes (the first few and the count), grouped by why the target cannot take them, the ones with no equivalent
    first."""
    allowed = TARGET_OPS[target]
    ops = list(dict.fromkeys(node.op for node in graph.nodes.values() if node.op not in allowed))
    if not ops:
        return
    from snncompile.passes.tokens_to_vectors import FOLDED

    folded = frozenset(cls.op for cls in FOLDED)
    groups: dict[tuple[int, str], list[str]] = {}
    for op in ops:
        groups.setdefault(_reason(target, op, folded), []).append(op)
    count = sum(1 for node in graph.nodes.values() if node.op not in allowed)
    what = "NIR 1.0 standard primitives cannot express" if target == "nir" else f"the {target} target does not run"
    parts = [f"{_nodes_of(graph, group)} {why}" for (_, why), group in sorted(groups.items())]
    other = "; --target cpu keeps extension nodes" if target == "nir" else ""
    raise SnnError(f"the {target} pipeline leaves {count} node(s) that {what}: {'; '.join(parts)}{other} "
                   f"(allowed: {', '.join(sorted(allowed))})")

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


def pipeline(target: str) -> list[Pass]:
    """The named pipeline of ``target``."""
    if target not in PIPELINES:
        raise SnnError(f"unknown target '{target}' (targets: {', '.join(PIPELINES)})")
    return parse_passes(",".join(PIPELINES[target]))


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
