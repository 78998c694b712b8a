"""Calibrated, input-independent token masks and the token-row wiring of the ``token-masks`` pass (AT-SNN)."""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir.node import Node, require, single
from snncompile.ir.types import Kind, TensorType


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class StaticTokenMask(Node):
    """A per-step keep mask fixed at compile time: ``mask`` is ``[S, N]`` (0/1); at step ``t`` (counted from 0
    since the last reset) the output is ``keep_k[t] = mask[min(t, S - 1), k]`` (binary ``[N]``), the same for every
    sample. Port ``input`` (any tensor) only gives the batch size; its values are ignored. State: the step count
    ``t``. The row for the last calibrated step is repeated after it (AT-SNN's halting is monotone in t)."""

    op = "StaticTokenMask"
    stateful = True
    arrays = ("mask",)
    mask: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        m = self.mask
        require(m.ndim == 2 and m.shape[0] >= 1 and m.shape[1] >= 1, name, f"mask must be [S, N], got {m.shape}")
        require(bool(np.isin(m, (0.0, 1.0)).all()), name, "mask must hold only 0 and 1")
        return TensorType((m.shape[1],), Kind.BINARY)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class TokenSelect(Node):
    """Keep the token rows ``index`` (strictly increasing): ``y[i, ...] = x[index[i], ...]`` for ``x [N, ...]``;
    output ``[len(index), ...]`` of the input's kind. Wiring only: no synapse, no state."""

    op = "TokenSelect"
    index: tuple[int, ...]

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        _check_index(self.index, t.shape[0] if t.shape else 0, name)
        return TensorType((len(self.index),) + t.shape[1:], t.kind)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class TokenScatter(Node):
    """Put ``x [len(index), ...]`` back into ``size`` token rows: ``y[index[i], ...] = x[i, ...]``, every other row
    0; output ``[size, ...]`` of the input's kind. Wiring only: no synapse, no state."""

    op = "TokenScatter"
    index: tuple[int, ...]
    size: int

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        _check_index(self.index, self.size, name)
        require(len(t.shape) >= 1 and t.shape[0] == len(self.index), name,
                f"input must have {len(self.index)} token rows, got {t}")
        return TensorType((self.size,) + t.shape[1:], t.kind)


def _check_index(index: tuple[int, ...], rows: int, name: str) -> None:
    require(len(index) >= 1 and index[0] >= 0 and index[-1] < rows and all(np.diff(index) > 0), name,
            f"index must be strictly increasing rows of 0..{rows - 1}, got {list(index)}")
