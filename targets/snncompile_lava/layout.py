"""How IR tensors and parameters are laid out in Lava (docs/lava.md, "Layout").

The IR is torch-ordered (a feature map is ``[C, H, W]``, a conv weight ``[C_out, C_in/groups, kH, kW]``, and conv is
a cross-correlation). lava-nc's Conv works on ``(X, Y, C) = (W, H, C)`` arrays with weights ``(C_out, kW, kH,
C_in/groups)`` and convolves (flips the kernel). So every tensor lives in Lava with its axes reversed (a vector
is unchanged), and a conv weight is transposed and flipped. A Reshape or Flatten, row-major over the IR's axes,
becomes Lava virtual ports: back to IR order, reshape, reversed again.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Lava's shape of an IR tensor of ``shape``."""
    return tuple(int(s) for s in reversed(shape))


def to_lava(array: np.ndarray, lead: int = 0) -> np.ndarray:
    """``array`` (``lead`` leading axes, e.g. time, then an IR tensor) with the tensor's axes reversed."""
    axes = list(range(lead)) + list(reversed(range(lead, array.ndim)))
    return np.ascontiguousarray(np.transpose(array, axes))


def from_lava(array: np.ndarray, lead: int = 0) -> np.ndarray:
    """The inverse of ``to_lava`` (reversing the axes twice is the identity)."""
    return to_lava(array, lead)


def conv_weight(weight: np.ndarray) -> np.ndarray:
    """A ``LoihiConv2d`` weight ``[C_out, C_in/g, kH, kW]`` (cross-correlation) as Lava's Conv takes it:
    ``(C_out, kW, kH, C_in/g)``, flipped in both spatial axes, because Lava convolves."""
    return np.ascontiguousarray(weight.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :]).astype(np.int32)


def xy(pair: tuple[int, int]) -> tuple[int, int]:
    """An IR ``(H, W)`` pair (stride, padding, dilation) in Lava's ``(X, Y) = (W, H)`` order."""
    return int(pair[1]), int(pair[0])


def reshaped(port: Any, ir_from: tuple[int, ...], ir_to: tuple[int, ...]) -> Any:
    """A Lava port carrying an IR tensor of ``ir_from`` as one carrying it row-major reshaped to ``ir_to``."""
    if ir_from == ir_to:
        return port
    if len(ir_from) > 1:
        port = port.transpose(list(reversed(range(len(ir_from)))))
    port = port.reshape(tuple(int(s) for s in ir_to))
    if len(ir_to) > 1:
        port = port.transpose(list(reversed(range(len(ir_to)))))
    return port
