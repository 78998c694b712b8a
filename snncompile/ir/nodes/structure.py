"""Graph boundary and data-movement nodes: no weights, no arithmetic beyond sums and means."""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir.node import Node, require, single
from snncompile.ir.types import Kind, TensorType, sum_kind


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Input(Node):
    """A graph input: at step t, ``y = x[t]`` of the given type."""

    op = "Input"
    primitive = True
    ports = ()
    type: TensorType

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return self.type


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Output(Node):
    """A graph output: records ``x[t]`` at every step."""

    op = "Output"
    primitive = True

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return single(inputs)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Flatten(Node):
    """Merge axes ``start_dim..end_dim`` (inclusive, of the per-sample shape) into one; row-major order."""

    op = "Flatten"
    primitive = True
    start_dim: int = 0
    end_dim: int = -1

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        n = len(t.shape)
        start, end = self.start_dim % n if n else 0, self.end_dim % n if n else 0
        require(n > 0 and start <= end, name, f"cannot flatten dims {self.start_dim}..{self.end_dim} of {t}")
        merged = int(np.prod(t.shape[start:end + 1]))
        return TensorType(t.shape[:start] + (merged,) + t.shape[end + 1:], t.kind)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Reshape(Node):
    """Row-major reshape of the per-sample tensor to ``shape``."""

    op = "Reshape"
    shape: tuple[int, ...]

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(int(np.prod(self.shape)) == t.size, name, f"cannot reshape {t} to {list(self.shape)}")
        return TensorType(tuple(self.shape), t.kind)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Transpose(Node):
    """Permute the per-sample axes: ``y.shape[i] = x.shape[perm[i]]``."""

    op = "Transpose"
    perm: tuple[int, ...]

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(sorted(self.perm) == list(range(len(t.shape))), name,
                f"perm {list(self.perm)} is not a permutation of the {len(t.shape)} axes of {t}")
        return TensorType(tuple(t.shape[p] for p in self.perm), t.kind)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Slice(Node):
    """``y = x[..., start:stop, ...]`` along ``axis`` of the per-sample shape (step 1), e.g. one of the q, k, v
    chunks of a fused projection. Pure data movement: the kind is kept."""

    op = "Slice"
    axis: int
    start: int
    stop: int

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(-len(t.shape) <= self.axis < len(t.shape), name, f"axis {self.axis} out of range for {t}")
        axis = self.axis % len(t.shape)
        require(0 <= self.start < self.stop <= t.shape[axis], name,
                f"slice {self.start}:{self.stop} is empty or outside axis {axis} of {t}")
        return TensorType(t.shape[:axis] + (self.stop - self.start,) + t.shape[axis + 1:], t.kind)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Concat(Node):
    """``y = concatenate(a, b)`` along ``axis`` of the per-sample shape (``a`` first); the other axes must agree.
    Data movement: two spike operands give spikes, any real operand gives reals."""

    op = "Concat"
    ports = ("a", "b")
    axis: int

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        a, b = inputs["a"], inputs["b"]
        require(len(a.shape) == len(b.shape) and -len(a.shape) <= self.axis < len(a.shape), name,
                f"cannot concatenate {a} and {b} along axis {self.axis}")
        axis = self.axis % len(a.shape)
        require(a.shape[:axis] + a.shape[axis + 1:] == b.shape[:axis] + b.shape[axis + 1:], name,
                f"{a} and {b} differ outside axis {axis}")
        kind = a.kind if a.kind == b.kind else sum_kind([a.kind, b.kind])
        return TensorType(a.shape[:axis] + (a.shape[axis] + b.shape[axis],) + a.shape[axis + 1:], kind)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Add(Node):
    """``y = sum of every edge into the port`` (e.g. a spike-sum residual: binary + binary gives graded)."""

    op = "Add"

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return single(inputs)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Mean(Node):
    """``y = mean of x over axis`` (of the per-sample shape), e.g. the mean over tokens before a classifier."""

    op = "Mean"
    axis: int = 0

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(-len(t.shape) <= self.axis < len(t.shape), name, f"axis {self.axis} out of range for {t}")
        axis = self.axis % len(t.shape)
        return TensorType(t.shape[:axis] + t.shape[axis + 1:], Kind.REAL)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Delay(Node):
    """``y[t] = x[t - round(delay / dt)]`` element-wise (0 before the first input arrives)."""

    op = "Delay"
    primitive = True
    stateful = True
    arrays = ("delay",)
    delay: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(bool((self.delay >= 0).all()), name, "delay must be non-negative")
        return t


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Previous(Node):
    """``y[t] = x[t - 1]``, ``y[0] = 0``: the value an edge that closes a cycle carries (NIR's recurrence).

    Edges into a Previous node do not order the step: its output is known when the step starts, so a cycle through
    it is well defined. ``type`` is its output type, declared because its input is computed later in the step; the
    verifier checks that the input has exactly that type. NIR files have no such node: a cycle's closing edge
    becomes one on reading and an edge again on writing (docs/semantics.md, "Recurrence").
    """

    op = "Previous"
    stateful = True
    type: TensorType

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return self.type


def summed_type(types: list[TensorType], name: str, port: str) -> TensorType:
    """Type on a port fed by several edges: they are summed, so shapes must agree."""
    require(len({t.shape for t in types}) == 1, name,
            f"edges into port '{port}' have different shapes: {', '.join(str(t) for t in types)}")
    return TensorType(types[0].shape, sum_kind([t.kind for t in types]))
