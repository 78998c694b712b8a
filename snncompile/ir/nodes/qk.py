"""QKFormer's Q-K attention as IR nodes: fixed-pattern spike sums and a broadcast element mask.

QKFormer's token attention ``A_t = LIF_{0.5}(sum over a head's channels of Q)``, ``X' = A_t * K`` and its channel
attention ``A_c = LIF_{0.5}(sum over tokens of Q)``, ``X' = A_c * K`` are not one opaque node: the threshold
neuron between the sum and the mask is an ordinary (stateful) ``LIF`` node, so the frontend emits

    Q --HeadSum | TokenSum--> LIF (v_threshold 0.5) --> SpikeMask.mask
    K ------------------------------------------------> SpikeMask.input

The sums have fixed 0/1 weights (a synapse with a block pattern, kept explicit so passes and reports see the
structure and the integer kind); the mask of binary by binary spikes is a logical AND. These three shapes are the
input of the ``qk-attention-to-masks`` lowering.
"""

from __future__ import annotations

import dataclasses

from snncompile.ir.node import Node, require, single
from snncompile.ir.types import Kind, TensorType, product_kind


def _sum_kind(t: TensorType) -> Kind:
    return Kind.REAL if t.kind == Kind.REAL else Kind.GRADED


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class HeadSum(Node):
    """Sum over each head's channels (QKFormer token attention): input ``[..., D]``, ``d = D / heads``,
    ``y[..., h] = sum_{j < d} x[..., h*d + j]`` (output ``[..., heads]``). Spikes in, counts out (graded)."""

    op = "HeadSum"
    events = True
    heads: int

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(self.heads >= 1, name, f"heads must be >= 1, got {self.heads}")
        require(len(t.shape) >= 1 and t.shape[-1] % self.heads == 0, name,
                f"the last axis of {t} does not divide into {self.heads} heads")
        return TensorType(t.shape[:-1] + (self.heads,), _sum_kind(t))


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class TokenSum(Node):
    """Sum over tokens (QKFormer channel attention): input ``[N, D]``, ``y[0, c] = sum_n x[n, c]``
    (output ``[1, D]``). Spikes in, counts out (graded)."""

    op = "TokenSum"
    events = True

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(len(t.shape) == 2, name, f"needs tokens [N, D], got {t}")
        return TensorType((1, t.shape[1]), _sum_kind(t))


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Sum(Node):
    """Sum over one ``axis`` of the per-sample shape, the axis removed: ``y[i, k] = sum_j x[i, j, k]`` (e.g.
    ``torch.sum(q, dim=3)`` of a multi-step model). A fixed 0/1-weight synapse: spikes in, counts out (graded)."""

    op = "Sum"
    events = True
    axis: int

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        t = single(inputs)
        require(-len(t.shape) <= self.axis < len(t.shape), name, f"axis {self.axis} out of range for {t}")
        axis = self.axis % len(t.shape)
        return TensorType(t.shape[:axis] + t.shape[axis + 1:], _sum_kind(t))


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SpikeMask(Node):
    """Element-wise product with a block-broadcast mask. Ports ``mask`` (shape M, binary) and ``input`` (shape S,
    same rank, ``S[i]`` a multiple of ``M[i]``): with ``r_i = S[i] / M[i]``,
    ``y[i_0, ..., i_k] = mask[i_0 // r_0, ..., i_k // r_k] * x[i_0, ..., i_k]``. A mask ``[N, heads]`` on
    ``[N, D]`` masks each head's channels per token; ``[1, D]`` masks each channel for all tokens.
    The output keeps the input's kind (binary x binary = binary, a logical AND)."""

    op = "SpikeMask"
    events = True
    ports = ("mask", "input")

    def output_type(self, inputs: dict[str, TensorType], name: str) -> TensorType:
        m, x = inputs["mask"], inputs["input"]
        require(m.kind == Kind.BINARY, name, f"the mask must be binary spikes, got {m}")
        require(len(m.shape) == len(x.shape), name, f"mask {m} and input {x} must have the same rank")
        require(all(s % k == 0 for k, s in zip(m.shape, x.shape, strict=True)), name,
                f"each axis of input {x} must be a multiple of the mask's {m}")
        return TensorType(x.shape, product_kind(m.kind, x.kind))
