"""The one interface every target implements (docs/targets.md, "Writing a target").

A target has a ``name``, the ``chips`` it compiles for (data: ``snncompile.targets.chips``), ``accepts`` (an
allow-list of the node ops its pipeline's output may hold: a new extension node is refused until a target adds it),
a pass ``pipeline`` per chip (pass specs in the ``--passes`` syntax), ``check`` (every problem, with the node and the
reason, before anything is written: ops it does not take, resources exceeded), ``map`` (placement and resource use,
for targets with cores), ``emit`` (write the artefacts) and, where a runtime exists, ``run``.
"""

from __future__ import annotations

import abc
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from snncompile.errors import UnsupportedError
from snncompile.ir import Graph
from snncompile.targets.chips import Chip, chip_names, load_chip

if TYPE_CHECKING:
    from snncompile.targets.mapping import Placement

SHOWN = 3  # node names shown per op kind in a refusal


@dataclass(frozen=True)
class Problem:
    """Why a graph does not go onto a target's chip: the node (None for the whole graph) and the reason."""

    node: str | None
    reason: str

    def __str__(self) -> str:
        return self.reason if self.node is None else f"{self.node}: {self.reason}"


def nodes_of(graph: Graph, ops: Sequence[str]) -> str:
    """``Op xN (a, b, c, +k more)`` for each op kind of ``ops``, in that order."""
    parts = []
    for op in ops:
        names = [name for name, node in graph.nodes.items() if node.op == op]
        more = f", +{len(names) - SHOWN} more" if len(names) > SHOWN else ""
        parts.append(f"{op} x{len(names)} ({', '.join(names[:SHOWN])}{more})")
    return ", ".join(parts)


class Target(abc.ABC):
    """Base of every target plugin. Subclasses set the class attributes and implement ``pipeline`` and ``emit``."""

    name: ClassVar[str]
    title: ClassVar[str]
    accepts: ClassVar[frozenset[str]]
    output: ClassVar[str]  # what ``emit`` writes at ``out``: "file" (e.g. OUT.nir) or "folder"
    default_chip: ClassVar[str | None] = None  # None: the target has no chips
    runtime: ClassVar[str | None] = None  # the module whose presence means the runtime is installed
    refused: ClassVar[str] = "the {target} target does not run"  # how a refusal says what the left nodes are
    hint: ClassVar[str] = ""  # appended to a refusal of ops

    # -- chips -------------------------------------------------------------------------------------------------
    def chips(self) -> list[str]:
        return chip_names(self.name)

    def chip(self, spec: str | None) -> Chip | None:
        """The chip ``spec`` (a name of this target's chips or a .toml file), or the default; None for a target
        without chips."""
        if spec is None:
            return None if self.default_chip is None else load_chip(self.default_chip, self.name)
        if self.default_chip is None:
            raise UnsupportedError(f"--chip {spec}: the {self.name} target has no chips")
        return load_chip(spec, self.name)

    def runtime_installed(self) -> bool | None:
        """Whether the runtime's module can be imported (None: the target has no runtime); nothing is imported."""
        return None if self.runtime is None else importlib.util.find_spec(self.runtime) is not None

    # -- compiling ---------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def pipeline(self, chip: Chip | None) -> tuple[str, ...]:
        """The passes that lower a traced graph for ``chip``, each in the ``--passes`` syntax."""

    def why(self, op: str) -> tuple[int, str]:
        """(rank, why this target cannot take ``op``, said of a group of such nodes): ranked groups are listed in
        order, the ops with no equivalent first."""
        return 0, "are high-level nodes the pipeline did not lower (--explain gives each pass's reason)"

    def unsupported(self, graph: Graph) -> list[Problem]:
        """One problem per node whose op this target does not accept."""
        return [Problem(name, f"{node.op} is not accepted by the {self.name} target: such nodes {self.why(node.op)[1]}")
                for name, node in graph.nodes.items() if node.op not in self.accepts]

    def refusal(self, graph: Graph) -> str | None:
        """One line naming every op kind this target does not accept (with its first nodes and count), grouped by
        why; None when it accepts every node."""
        ops = list(dict.fromkeys(node.op for node in graph.nodes.values() if node.op not in self.accepts))
        if not ops:
            return None
        groups: dict[tuple[int, str], list[str]] = {}
        for op in ops:
            groups.setdefault(self.why(op), []).append(op)
        count = sum(1 for node in graph.nodes.values() if node.op not in self.accepts)
        parts = [f"{nodes_of(graph, group)} {why}" for (_, why), group in sorted(groups.items())]
        return (f"the {self.name} pipeline leaves {count} node(s) that {self.refused.format(target=self.name)}: "
                f"{'; '.join(parts)}{self.hint} (allowed: {', '.join(sorted(self.accepts))})")

    def map(self, graph: Graph, chip: Chip | None) -> Placement | None:
        """Placement and resource use on ``chip``; None for a target without cores."""
        return None

    def check(self, graph: Graph, chip: Chip | None, placement: Placement | None = None) -> list[Problem]:
        """Every reason ``graph`` (already lowered) does not go onto ``chip``: ops first, then resources (from
        ``placement`` when the caller has mapped the graph already)."""
        placement = placement if placement is not None else self.map(graph, chip)
        return self.unsupported(graph) + ([] if placement is None else list(placement.problems))

    @abc.abstractmethod
    def emit(self, graph: Graph, chip: Chip | None, out: Path, placement: Placement | None = None) -> list[Path]:
        """Write the artefacts of the lowered, checked ``graph`` at ``out`` (``placement``: what ``map`` gave, when
        the caller has it); the files written."""

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run emitted artefacts on the target's runtime."""
        raise UnsupportedError(f"the {self.name} target has no runtime to run on")
