"""QKFormer's leaf modules -> IR nodes (registered into frontend.modules.MODULES).

The Q-K attention is traced through: its Q/K/projection layers and its threshold neuron ``attn_lif`` become
ordinary nodes; only the fixed-pattern sums and the mask are leaves, each mapped to one extension node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from snncompile.ir import nodes as n
from snncompile.ir.node import Node
from snncompile.nn.qkformer import HeadSum, SpikeMask, TokenSum

Shape = tuple[int, ...]
# Any: each converter takes an instance of the module type it is registered under, which a dict cannot express.
Converter = Callable[[Any, Shape, Shape, str], Node]


def _head_sum(m: HeadSum, inp: Shape, out: Shape, path: str) -> Node:
    return n.HeadSum(heads=m.heads)


def _token_sum(m: TokenSum, inp: Shape, out: Shape, path: str) -> Node:
    return n.TokenSum()


def _spike_mask(m: SpikeMask, inp: Shape, out: Shape, path: str) -> Node:
    return n.SpikeMask()


FAMILY_MODULES: dict[type[nn.Module], Converter] = {
    HeadSum: _head_sum,
    TokenSum: _token_sum,
    SpikeMask: _spike_mask,
}
