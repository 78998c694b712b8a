"""SpikingResformer's leaves -> IR nodes: the two DSSA products (see snncompile.ir.nodes.dssa).

The converters compute each product's per-head scale from the module's firing-rate buffer in float64, with the
formula the module uses (``dssa_scale``), so a float64 copy of the model multiplies by exactly the same numbers.
Their input shape is that of the first argument, ``y [2C, H', W']``: ``d = C / heads`` for the score,
``N' = H' W'`` for the aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from snncompile.ir.node import Node
from snncompile.ir.nodes.dssa import DSSAAggregate as AggregateNode
from snncompile.ir.nodes.dssa import DSSAScore as ScoreNode
from snncompile.nn.dssa import DSSAAggregate, DSSAScore, dssa_scale

Shape = tuple[int, ...]
# Any: each converter takes an instance of the module type it is registered under, which a dict cannot express.
Converter = Callable[[Any, Shape, Shape, str], Node]


def _scale(m: DSSAScore | DSSAAggregate, inner: int) -> np.ndarray:
    return dssa_scale(m.firing_rate.detach().to(torch.float64), inner).cpu().numpy()


def _score(m: DSSAScore, inp: Shape, out: Shape, path: str) -> Node:
    return ScoreNode(heads=m.heads, scale=_scale(m, inp[0] // 2 // m.heads))


def _aggregate(m: DSSAAggregate, inp: Shape, out: Shape, path: str) -> Node:
    return AggregateNode(heads=m.heads, scale=_scale(m, inp[1] * inp[2]))


FAMILY_MODULES: dict[type[nn.Module], Converter] = {
    DSSAScore: _score,
    DSSAAggregate: _aggregate,
}
