"""SpikingResformer's dual spike self-attention (DSSA): the two products of a real operand with spikes.

DSSA (Shi et al., CVPR 2024) on a ``[C, H, W]`` input with ``h`` heads, ``d = C / h``::

    x_s  = LIF(x)                                   # binary [C, H, W]
    y    = BN(Conv_pxp(x_s))                        # real [2C, H', W'], N' = H' W'
    attn = LIF(DSSAScore(y, x_s))                   # binary [h, N', H W]
    out  = LIF(DSSAAggregate(y, attn))              # binary [C, H W]

Both products have one real operand (``y``) and one spike operand, so neither is a ``SpikeMatMul``. Per head the
scales ``c1 = 1 / sqrt(fr_x * d)`` and ``c2 = 1 / sqrt(fr_attn * N')`` are explicit ``scale`` parameters (one per
head): dssa-to-binary-matmul folds them into the thresholds of the LIFs that follow, which stay ordinary nodes.
Channel layout (the official code's reshape): head ``k`` of ``y`` owns channels ``2dk .. 2dk + 2d - 1``; the first
``d`` of them are ``y1_k``, the last ``d`` are ``y2_k``. Head ``k`` of ``x_s`` and of the output owns channels
``dk .. dk + d - 1``. Spatial positions are flattened row-major.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncompile.ir.node import Node, require
from snncompile.ir.types import Kind, TensorType


def _check_y(node: DSSAScore | DSSAAggregate, y: TensorType, channels: int, name: str) -> None:
    require(node.heads >= 1, name, f"heads must be >= 1, got {node.heads}")
    require(node.scale.shape == (node.heads,), name, f"scale must have shape [{node.heads}], got {node.scale.shape}")
    require(len(y.shape) == 3, name, f"y must be [2C, H', W'], got {y}")
    require(y.shape[0] == 2 * channels, name, f"y has {y.shape[0]} channels, expected 2 x {channels}")
    require(channels % node.heads == 0, name, f"C = {channels} does not divide into {node.heads} heads")


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class DSSAScore(Node):
    """DSSA's first product (attention scores before their LIF). Ports: ``y`` ``[2C, H', W']`` (any kind, real
    after BN), ``x`` ``[C, H, W]`` spikes. With ``d = C / heads``, ``N' = H' W'``, ``M = H W``, for head k::

        out[k, n, m] = (sum_{i<d} y[2dk + i, n] * x[dk + i, m]) * scale[k]      # (y1_k^T @ x_k) * c1_k

    Output real ``[heads, N', M]``; the LIF that follows is a separate node. ``scale[k] = 1 / sqrt(fr_x[k] d)``."""

    op = "DSSAScore"
    events = True
    ports = ("y", "x")
    arrays = ("scale",)
    heads: int
    scale: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        y, x = inputs["y"], inputs["x"]
        require(len(x.shape) == 3, name, f"x must be spikes [C, H, W], got {x}")
        require(x.kind != Kind.REAL, name, f"x must be spikes or counts, got {x}")
        _check_y(self, y, x.shape[0], name)
        return TensorType((self.heads, y.shape[1] * y.shape[2], x.shape[1] * x.shape[2]), Kind.REAL)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class DSSAAggregate(Node):
    """DSSA's second product (the attention output before its LIF). Ports: ``y`` ``[2C, H', W']`` (any kind, real
    after BN), ``attn`` ``[heads, N', M]`` spikes with ``N' = H' W'``. With ``d = C / heads``, for head k::

        out[dk + i, m] = (sum_n y[2dk + d + i, n] * attn[k, n, m]) * scale[k]    # (y2_k @ attn_k) * c2_k

    Output real ``[C, M]``; the LIF that follows is a separate node. ``scale[k] = 1 / sqrt(fr_attn[k] N')``."""

    op = "DSSAAggregate"
    events = True
    ports = ("y", "attn")
    arrays = ("scale",)
    heads: int
    scale: np.ndarray

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        y, attn = inputs["y"], inputs["attn"]
        require(len(y.shape) == 3, name, f"y must be [2C, H', W'], got {y}")
        channels = y.shape[0] // 2
        _check_y(self, y, channels, name)
        require(attn.kind != Kind.REAL, name, f"attn must be spikes or counts, got {attn}")
        require(len(attn.shape) == 3 and attn.shape[:2] == (self.heads, y.shape[1] * y.shape[2]), name,
                f"attn must be [{self.heads}, {y.shape[1] * y.shape[2]}, M], got {attn}")
        return TensorType((channels, attn.shape[2]), Kind.REAL)
