"""snncompile's Python API: what every command calls (docs/targets.md, "Python API").

    import snncompile
    from snncompile.ir.nir_io import read_nir

    graph = read_nir("model.nir")
    report = snncompile.check(graph, target="lava", chip="loihi1")     # problems and placement; writes nothing
    result = snncompile.compile(graph, target="cpu", out="lowered.nir") # lower, check, emit

``target`` names a target plugin (``list_targets()`` lists them), ``chip`` one of its chips or a chip TOML file
(default: the target's default chip). Every error is an ``snncompile.errors.SnnError`` with a one-line message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from snncompile.errors import OutputFileError, UnsupportedError
from snncompile.files import check_output
from snncompile.ir import Graph, verify
from snncompile.ir.nir_io import write_nir
from snncompile.passes.registry import Step, parse_passes, run_pipeline
from snncompile.targets.chips import Chip, chip_names
from snncompile.targets.mapping import Placement
from snncompile.targets.plugins import load_target, target_names
from snncompile.targets.target import Problem, Target


@dataclass(frozen=True)
class TargetInfo:
    name: str
    title: str
    chips: tuple[str, ...]
    default_chip: str | None
    accepts: tuple[str, ...]
    output: str
    runtime: str | None
    runtime_installed: bool | None


@dataclass(frozen=True)
class Lowered:
    """A graph after a pipeline: what each pass did, and the target and chip it was lowered for (None: passes
    given by hand)."""

    graph: Graph
    steps: tuple[Step, ...]
    target: Target | None = None
    chip: Chip | None = None


@dataclass(frozen=True)
class Checked:
    lowered: Lowered
    problems: tuple[Problem, ...]
    placement: Placement | None

    @property
    def fits(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Compiled:
    lowered: Lowered
    placement: Placement | None
    files: tuple[Path, ...]


def list_targets() -> list[TargetInfo]:
    """Every installed target (each plugin is imported, never its vendor SDK)."""
    infos = []
    for name in target_names():
        t = load_target(name)
        infos.append(TargetInfo(t.name, t.title, tuple(t.chips()), t.default_chip, tuple(sorted(t.accepts)), t.output,
                                t.runtime, t.runtime_installed()))
    return infos


def energy_only_chips() -> list[str]:
    """Chips that price energy but no target compiles for yet."""
    return [name for name in chip_names() if name not in {c for t in target_names() for c in load_target(t).chips()}]


def run_passes(graph: Graph, spec: str, *, dump_after: str | None = None,
               dump_dir: str | os.PathLike[str] = ".") -> Lowered:
    """Run the passes of ``spec`` (the ``--passes`` syntax) on ``graph``."""
    lowered, steps = run_pipeline(graph, parse_passes(spec), dump_after=dump_after, dump_dir=Path(dump_dir))
    return Lowered(lowered, tuple(steps))


def lower(graph: Graph, target: str = "cpu", chip: str | None = None, *, dump_after: str | None = None,
          dump_dir: str | os.PathLike[str] = ".") -> Lowered:
    """Run ``target``'s pipeline for ``chip`` on ``graph``."""
    plugin = load_target(target)
    desc = plugin.chip(chip)
    passes = parse_passes(",".join(plugin.pipeline(desc)))
    lowered, steps = run_pipeline(graph, passes, dump_after=dump_after, dump_dir=Path(dump_dir))
    return Lowered(lowered, tuple(steps), plugin, desc)


def check_lowered(lowered: Lowered) -> Checked:
    """Every problem of a lowered graph on its target and chip (ops it does not take, resources), and its
    placement where the target has cores."""
    if lowered.target is None:
        raise UnsupportedError("check needs a graph lowered for a target (lower(graph, target, chip))")
    placement = lowered.target.map(lowered.graph, lowered.chip)
    problems = lowered.target.check(lowered.graph, lowered.chip, placement)
    return Checked(lowered, tuple(problems), placement)


def check(graph: Graph, target: str = "cpu", chip: str | None = None) -> Checked:
    """Does ``graph``, lowered by ``target``'s pipeline, go onto ``chip``; if not, why. Writes nothing."""
    return check_lowered(lower(graph, target, chip))


def check_output_path(target: str, out: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output ``target`` cannot write: a file path for a file target, a folder (or a
    new one in an existing folder) for a folder target."""
    if load_target(target).output == "file":
        check_output(out)
        return
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise OutputFileError(f"{folder}: cannot write: the {target} target writes a folder, and this is a file")
    if not folder.exists():
        check_output(folder)


def deploy(lowered: Lowered, out: str | os.PathLike[str]) -> Compiled:
    """Check a lowered graph on its target and chip (one line: every op it does not take, or the first resource
    problem), then emit it at ``out``. Nothing is written when it does not fit."""
    if lowered.target is None:
        verify(lowered.graph)
        write_nir(lowered.graph, out)
        return Compiled(lowered, None, (Path(out),))
    refusal = lowered.target.refusal(lowered.graph)
    if refusal is not None:
        raise UnsupportedError(refusal)
    checked = check_lowered(lowered)
    if checked.problems:
        count = len(checked.problems)
        more = f" (+{count - 1} more; 'snncompile check' lists them)" if count > 1 else ""
        where = lowered.chip.name if lowered.chip else lowered.target.name
        raise UnsupportedError(f"the graph does not fit {where}: {checked.problems[0]}{more}")
    verify(lowered.graph)
    files = lowered.target.emit(lowered.graph, lowered.chip, Path(out), checked.placement)
    return Compiled(lowered, checked.placement, tuple(files))


def compile(graph: Graph, target: str = "cpu", chip: str | None = None, *,  # noqa: A001 - snncompile.compile
            out: str | os.PathLike[str], dump_after: str | None = None,
            dump_dir: str | os.PathLike[str] | None = None) -> Compiled:
    """Lower ``graph`` with ``target``'s pipeline for ``chip``, check it, and emit the artefacts at ``out``."""
    check_output_path(target, out)
    folder = dump_dir if dump_dir is not None else Path(out).parent
    return deploy(lower(graph, target, chip, dump_after=dump_after, dump_dir=folder), out)
