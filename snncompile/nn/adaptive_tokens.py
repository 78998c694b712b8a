"""AT-SNN's token operators as leaf modules for the compiler's tracer (one IR node each, see
snncompile.ir.nodes.tokens for the equations, which these modules compute with the same float operations).

* ``HaltingScore``: a block's running sum over steps of ``sigmoid(gamma * z - beta)`` (stateful, ``reset()``);
* ``Halting``: keep mask ``H < 1 - eps`` of the cumulative score, with a sigmoid surrogate gradient for training;
* ``TokenMask``: ``x[b, k, ...] * keep[b, k]``;
* ``TokenMerge``: bipartite similarity merging; ``result="tokens"`` gives the merged stream, ``"flags"`` the slots
  merged away.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from snncompile.ir.nodes.tokens import MERGE_RESULTS, SIMILARITIES


class HaltingScore(nn.Module):
    """``a[t] = a[t-1] + sigmoid(gamma * score[..., channel] - beta)`` per token, ``a[-1] = 0``;
    ``forward(score [B, N, C]) -> a [B, N]``. The sum is kept in ``a`` between calls."""

    def __init__(self, gamma: float, beta: float, channel: int = 0):
        super().__init__()
        self.gamma = float(gamma)
        self.beta = float(beta)
        self.channel = int(channel)
        self.a: Tensor | None = None

    def forward(self, score: Tensor) -> Tensor:
        h = torch.sigmoid(self.gamma * score[..., self.channel] - self.beta)
        self.a = h if self.a is None else self.a + h
        return self.a

    def reset(self) -> None:
        self.a = None

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, beta={self.beta}, channel={self.channel}"


class _KeepStep(torch.autograd.Function):
    """Forward ``(H < threshold)`` as H's dtype; backward ``dkeep/dH = -alpha * s * (1 - s)`` with
    ``s = sigmoid(alpha * (threshold - H))``."""

    @staticmethod
    def forward(ctx: Any, cumulative: Tensor, threshold: float, alpha: float) -> Tensor:
        ctx.save_for_backward(cumulative)
        ctx.threshold, ctx.alpha = threshold, alpha
        return (cumulative < threshold).to(cumulative.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (cumulative,) = ctx.saved_tensors
        s = torch.sigmoid(ctx.alpha * (ctx.threshold - cumulative))
        return -grad * ctx.alpha * s * (1 - s), None, None


class Halting(nn.Module):
    """``keep = 1 if H < threshold else 0`` per token, ``forward(H [B, N]) -> keep [B, N]``; ``threshold = 1 - eps``."""

    def __init__(self, threshold: float, surrogate_alpha: float = 10.0):
        super().__init__()
        self.threshold = float(threshold)
        self.surrogate_alpha = float(surrogate_alpha)

    def forward(self, cumulative: Tensor) -> Tensor:
        return _KeepStep.apply(cumulative, self.threshold, self.surrogate_alpha)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


class TokenMask(nn.Module):
    """``forward(x [B, N, ...], keep [B, N]) = x * keep`` broadcast over the trailing axes."""

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        return x * keep.reshape(keep.shape + (1,) * (x.dim() - 2))


def merge_selection(x: Tensor, keep: Tensor, r: int, similarity: str) -> tuple[Tensor, Tensor]:
    """For ``x [B, N, D]`` and ``keep [B, N]``: ``(match [B, N_A], selected [B, N_A] as x's dtype)`` of the
    bipartite rule in ``TokenMerge``'s docstring (A = even tokens, B = odd tokens)."""
    a, b = x[:, 0::2], x[:, 1::2]
    score = a @ b.transpose(1, 2)
    if similarity == "cosine":
        norms = torch.linalg.vector_norm(x, dim=-1)
        score = score / (norms[:, 0::2, None] * norms[:, None, 1::2]).clamp_min(1e-12)
    live = (keep[:, 0::2, None] > 0) & (keep[:, None, 1::2] > 0)
    score = score.masked_fill(~live, float("-inf"))
    match = score.argmax(-1)
    best = score.gather(-1, match.unsqueeze(-1)).squeeze(-1)
    order = torch.sort(best, dim=-1, descending=True, stable=True).indices
    rank = torch.empty_like(order).scatter_(-1, order, torch.arange(order.shape[-1]).expand_as(order))
    selected = (rank < r) & (best > float("-inf"))
    return match, selected.to(x.dtype)


def merge_tokens(x: Tensor, match: Tensor, selected: Tensor) -> Tensor:
    """The merged stream: each odd token averaged with the even tokens selected into it, selected slots zeroed."""
    a, b = x[:, 0::2], x[:, 1::2]
    index = match.unsqueeze(-1).expand_as(a)
    sums = b.scatter_add(1, index, a * selected.unsqueeze(-1))
    counts = torch.ones_like(b[..., 0]).scatter_add(1, match, selected)
    out = torch.empty_like(x)
    out[:, 0::2] = a * (1 - selected).unsqueeze(-1)
    out[:, 1::2] = sums / counts.unsqueeze(-1)
    return out


def merge_flags(x: Tensor, selected: Tensor) -> Tensor:
    """``[B, N]``: 1 at the even slots merged away, 0 elsewhere."""
    flags = torch.zeros_like(x[..., 0])
    flags[:, 0::2] = selected
    return flags


class TokenMerge(nn.Module):
    """``forward(x [B, N, D], keep [B, N])``: the merged tokens (``result="tokens"``) or the merged-away flags
    (``result="flags"``) of ``r`` bipartite merges by ``similarity`` among live tokens."""

    def __init__(self, r: int, similarity: str = "cosine", result: str = "tokens"):
        super().__init__()
        if similarity not in SIMILARITIES or result not in MERGE_RESULTS:
            raise ValueError(f"similarity must be one of {SIMILARITIES} and result one of {MERGE_RESULTS}")
        self.r, self.similarity, self.result = int(r), similarity, result

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        match, selected = merge_selection(x, keep, self.r, self.similarity)
        if self.result == "flags":
            return merge_flags(x, selected)
        return merge_tokens(x, match, selected)

    def extra_repr(self) -> str:
        return f"r={self.r}, similarity={self.similarity}, result={self.result}"
