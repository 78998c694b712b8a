"""The base of every IR node: immutable, typed, compared by value.

A node is a frozen dataclass. Its fields are its parameters (numbers, tuples, read-only numpy arrays); its class
says which named input ports it has, whether it carries state from step t-1 to step t, and how the type of its
output follows from the types on its ports. Several edges into one port are summed (NIR's convention).
Simulation lives in ``snncompile.sim``, one implementation per node class; this module holds no behaviour beyond
typing.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from snncompile.errors import IRError
from snncompile.ir.types import TensorType


def freeze(value: Any, dtype: Any = np.float64) -> np.ndarray:
    """A read-only copy of ``value`` as a numpy array of ``dtype``."""
    arr = np.array(value, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))
    return bool(a == b)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Node:
    """Base of all nodes. Subclasses set ``op`` and may override ``ports``, ``stateful``, ``primitive``."""

    op: ClassVar[str] = ""
    ports: ClassVar[tuple[str, ...]] = ("input",)
    stateful: ClassVar[bool] = False
    primitive: ClassVar[bool] = False  # True: a standard NIR 1.0 primitive
    events: ClassVar[bool] = False  # True: the simulator counts non-zero inputs per port (synapse-like cost)
    arrays: ClassVar[tuple[str, ...]] = ()  # fields stored as read-only float64 arrays

    def __post_init__(self) -> None:
        for name in self.arrays:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, freeze(value))

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        """The type of the output given the types on each port; raise IRError(name, rule) if they do not fit."""
        raise NotImplementedError(type(self).__name__)

    def replace(self, **changes: Any) -> Node:
        return dataclasses.replace(self, **changes)

    def nonfinite_params(self) -> list[str]:
        """Names of array parameters holding NaN or infinity."""
        return [n for n in self.arrays if getattr(self, n) is not None and not np.isfinite(getattr(self, n)).all()]

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    __hash__ = None  # type: ignore[assignment]


def single(inputs: dict[str, TensorType]) -> TensorType:
    return inputs["input"]


def require(cond: bool, name: str, rule: str) -> None:
    """Raise IRError(name, rule) unless ``cond``."""
    if not cond:
        raise IRError(name, rule)


def window_args(node_name: str, *, positive: dict[str, object], nonnegative: dict[str, object]) -> None:
    """Raise IRError unless every value (int or tuple of ints) in ``positive`` is >= 1 and in ``nonnegative`` >= 0."""
    for bound, group in ((1, positive), (0, nonnegative)):
        for field, value in group.items():
            values = value if isinstance(value, tuple) else (value,)
            require(all(int(v) >= bound for v in values), node_name, f"{field} must be >= {bound}, got {value}")


def broadcastable(param: np.ndarray | None, shape: tuple[int, ...]) -> bool:
    if param is None:
        return True
    try:
        np.broadcast_shapes(param.shape, shape)
    except ValueError:
        return False
    return np.broadcast_shapes(param.shape, shape) == shape
