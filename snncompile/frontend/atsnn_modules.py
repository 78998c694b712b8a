"""AT-SNN's leaf modules -> IR nodes (registered into frontend.modules.MODULES; ``HaltingScore`` is stateful)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from snncompile.ir import nodes as n
from snncompile.ir.node import Node
from snncompile.nn.adaptive_tokens import Halting, HaltingScore, TokenMask, TokenMerge

Shape = tuple[int, ...]
# Any: each converter takes an instance of the module type it is registered under, which a dict cannot express.
Converter = Callable[[Any, Shape, Shape, str], Node]


def _halting_score(m: HaltingScore, inp: Shape, out: Shape, path: str) -> Node:
    return n.TokenHaltingScore(gamma=m.gamma, beta=m.beta, channel=m.channel)


def _halting(m: Halting, inp: Shape, out: Shape, path: str) -> Node:
    return n.TokenHalting(threshold=m.threshold)


def _token_mask(m: TokenMask, inp: Shape, out: Shape, path: str) -> Node:
    return n.TokenMask()


def _token_merge(m: TokenMerge, inp: Shape, out: Shape, path: str) -> Node:
    return n.TokenMerge(r=m.r, similarity=m.similarity, result=m.result)


FAMILY_MODULES: dict[type[nn.Module], Converter] = {
    HaltingScore: _halting_score,
    Halting: _halting,
    TokenMask: _token_mask,
    TokenMerge: _token_merge,
}
STATEFUL_MODULES: tuple[type[nn.Module], ...] = (HaltingScore,)
