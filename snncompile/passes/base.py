"""The pass contract: a named, configured graph rewrite that says what it changed and why it left nodes alone.

A pass is a frozen dataclass. Its class-level ``name`` (kebab-case) is how pipelines and the command line refer to
it; its dataclass fields are its options (``int``, ``float``, ``bool`` or ``str``, each with a default), written
``name{key=value,...}`` (see ``snncompile.passes.registry``). A pass implements ``rewrite``; callers use ``run``,
which verifies the result so that a broken rewrite is reported against the pass and the node it broke, never later.

Each rewrite rule is a check and a rewrite: the check returns the REASON a candidate node does not fit, and the pass
reports it as a ``Refusal`` (``snncompile lower --explain`` prints them), so a user sees why a node was left as is.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

from snncompile.ir import Graph, verify
from snncompile.ir.recurrence import retype_previous


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A candidate node that ``pass_name`` left unchanged, and why."""

    pass_name: str
    node: str
    reason: str

    def __str__(self) -> str:
        return f"{self.pass_name}: {self.node}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class PassResult:
    graph: Graph
    changed: bool
    refusals: tuple[Refusal, ...] = ()


@dataclasses.dataclass(frozen=True)
class Pass(abc.ABC):
    """Base of every pass. Subclasses set ``name`` and implement ``rewrite``; they never mutate the input graph."""

    name: ClassVar[str] = ""

    @abc.abstractmethod
    def rewrite(self, graph: Graph) -> PassResult:
        """The rewritten graph (not yet verified), whether anything changed, and the refusals."""

    def run(self, graph: Graph) -> PassResult:
        """``rewrite``, then verify the result; an IRError names this pass and the offending node."""
        result = self.rewrite(graph)
        rewritten = retype_previous(result.graph)  # a cycle carries what the rewritten nodes now give it
        verify(rewritten, stage=self.name)
        return dataclasses.replace(result, graph=rewritten)

    def refuse(self, node: str, reason: str) -> Refusal:
        return Refusal(self.name, node, reason)

    def spec(self) -> str:
        """This pass as written on the command line: ``name`` or ``name{key=value,...}`` (options off default)."""
        changed = [f"{f.name}={_text(getattr(self, f.name))}" for f in dataclasses.fields(self)
                   if getattr(self, f.name) != f.default]
        return f"{self.name}{{{','.join(changed)}}}" if changed else self.name


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
