"""Pooling nodes over ``[C, H, W]``; zero padding; windows as torch computes them."""

from __future__ import annotations

import dataclasses

from snncompile.ir.node import Node, require, single, window_args
from snncompile.ir.nodes.synapses import _pair, conv_out
from snncompile.ir.types import Kind, TensorType


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class _Pool2d(Node):
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("kernel_size", "stride", "padding"):
            object.__setattr__(self, f, _pair(getattr(self, f)))

    def _out_shape(self, t: TensorType, name: str) -> tuple[int, ...]:
        require(len(t.shape) == 3, name, f"pooling needs input [C, H, W], got {t}")
        window_args(name, positive={"kernel_size": self.kernel_size, "stride": self.stride},
                    nonnegative={"padding": self.padding})
        require(all(2 * p <= k for p, k in zip(self.padding, self.kernel_size, strict=True)), name,
                f"padding {self.padding} is more than half the kernel {self.kernel_size} (pooling windows are "
                "computed as torch does, which needs padding <= kernel / 2)")
        hw = tuple(conv_out(t.shape[1 + a], self.kernel_size[a], self.stride[a], self.padding[a]) for a in range(2))
        require(min(hw) > 0, name, f"output would be empty for input {t}")
        return (t.shape[0],) + hw


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SumPool2d(_Pool2d):
    """``y[c, i, j] = sum of x over the window`` (padding counts as zeros)."""

    op = "SumPool2d"
    events = True
    primitive = True

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        kind = Kind.REAL if t.kind == Kind.REAL else Kind.GRADED
        return TensorType(self._out_shape(t, name), kind)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class AvgPool2d(_Pool2d):
    """``y[c, i, j] = (sum of x over the window) / (kH * kW)`` (padding counts as zeros in the sum)."""

    op = "AvgPool2d"
    events = True
    primitive = True

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        return TensorType(self._out_shape(single(inputs), name), Kind.REAL)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class MaxPool2d(_Pool2d):
    """``y[c, i, j] = max of x over the window`` (padding never wins). On binary spikes: OR over the window."""

    op = "MaxPool2d"

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        return TensorType(self._out_shape(t, name), t.kind)
