"""AT-SNN (Kang et al., "AT-SNN: Adaptive Tokens for Vision Transformer on Spiking Neural Network", arXiv
2408.12293, 2024): Spikformer with adaptive tokens, written per time step; see docs/models/atsnn.md for the
choices made where the paper is open.

One step of ``ATSpikformer.step`` on ``x [B, C, H, W]`` (Spikformer's SPS, SSA layers, MLP and head)::

    X = SPS(x)                                          # [B, N, D], spike counts
    for block l:
        a_l[t] = a_l[t-1] + sigmoid(gamma * z_l - beta)    # z_l = w_l . X_k + b_l (or X_k[0]), per token k
        H_l    = H_{l-1} + a_l                              # = sum_{l' <= l, t' <= t} h^{l', t'}
        keep   = H_l < 1 - eps                              # halted tokens: 0 for the rest of the blocks and steps
        X      = keep * X;  Q, K, V = keep * LIF(BN(Linear(X)))
        X      = X + keep * SSA_out;  X = X + keep * MLP(X)
        after block ``merge.after``: X = TokenMerge(X, keep); H_l += merged-away flags
    y = head(mean over tokens of X)

``forward`` records the cumulative scores and keep masks of every (step, block); ``auxiliary_loss()`` is the
ponder loss on them and ``halting_statistics()`` summarises them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import Tensor, nn

from snncompile.nn.adaptive_tokens import Halting, HaltingScore, TokenMask, TokenMerge
from snncompile.nn.layers import StepModel
from snncompile.nn.spikformer import MLP, POOL_CIFAR, SPS, SSA

SCORES = ("linear", "channel")


@dataclass(frozen=True)
class HaltingOptions:
    """``score``: ``"linear"`` (z = a learned projection D -> 1 of the block input, zero-initialised) or
    ``"channel"`` (z = the block input's first channel, A-ViT's literal rule); ``h = sigmoid(gamma * z - beta)``;
    halt at ``H >= 1 - eps``; ``ponder_weight`` scales ``auxiliary_loss()``; ``surrogate_alpha`` shapes the
    gradient of the keep mask."""

    score: str = "linear"
    gamma: float = 10.0
    beta: float = 3.0
    eps: float = 0.01
    ponder_weight: float = 0.1
    surrogate_alpha: float = 10.0


@dataclass(frozen=True)
class MergeOptions:
    """Merge ``r`` tokens by ``similarity`` (``"cosine"`` or ``"dot"``) after block ``after``."""

    after: int = 0
    r: int = 2
    similarity: str = "cosine"


class ATBlock(nn.Module):
    """Spikformer block whose halted tokens (``keep == 0``) have zero rows in Q, K, V and the residual stream."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, qkv_bias: bool, attn_scale: float,
                 halting: HaltingOptions):
        super().__init__()
        self.ssa = SSA(dim, heads, qkv_bias=qkv_bias, scale=attn_scale)
        self.mlp = MLP(dim, mlp_ratio)
        self.score = nn.Linear(dim, 1) if halting.score == "linear" else None
        if self.score is not None:
            nn.init.zeros_(self.score.weight)
            nn.init.zeros_(self.score.bias)
        self.halting_score = HaltingScore(halting.gamma, halting.beta)
        self.halt = Halting(1.0 - halting.eps, halting.surrogate_alpha)
        self.mask_x, self.mask_q, self.mask_k, self.mask_v = TokenMask(), TokenMask(), TokenMask(), TokenMask()
        self.mask_ssa, self.mask_mlp = TokenMask(), TokenMask()

    def accumulate(self, x: Tensor) -> Tensor:
        """This block's running halting sum ``a_l [B, N]`` for block input ``x``."""
        return self.halting_score(self.score(x) if self.score is not None else x)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        ssa = self.ssa
        x = self.mask_x(x, keep)
        q = self.mask_q(ssa.q_lif(ssa.q_bn(ssa.q_linear(x))), keep)
        k = self.mask_k(ssa.k_lif(ssa.k_bn(ssa.k_linear(x))), keep)
        v = self.mask_v(ssa.v_lif(ssa.v_bn(ssa.v_linear(x))), keep)
        s = ssa.proj_lif(ssa.proj_bn(ssa.proj_linear(ssa.attn_lif(ssa.attn(q, k, v)))))
        x = x + self.mask_ssa(s, keep)
        return x + self.mask_mlp(self.mlp(x), keep)


@dataclass(frozen=True)
class HaltingStatistics:
    """``live [T, L, B, N]`` (1: token k processed by block l at step t in sample b)."""

    live: np.ndarray

    @property
    def live_per_step_block(self) -> np.ndarray:
        """``[T, L]``: mean over samples of the number of live tokens."""
        return self.live.sum(-1).mean(-1)

    @property
    def live_per_block(self) -> np.ndarray:
        """``[L]``: mean over steps and samples of the number of live tokens."""
        return self.live_per_step_block.mean(0)

    @property
    def halting_step(self) -> np.ndarray:
        """``[L, B, N]``: the first step at which the token is not processed by the block (T: never)."""
        dead = self.live == 0
        return np.where(dead.any(0), dead.argmax(0), self.live.shape[0])


class ATSpikformer(StepModel):
    """AT-SNN on Spikformer-L-D: ``step`` maps images ``[B, in_channels, img_size, img_size]`` to logits."""

    def __init__(self, *, in_channels: int, img_size: int, dim: int, depth: int, heads: int, num_classes: int,
                 mlp_ratio: int = 4, pool_after: tuple[bool, bool, bool, bool] = POOL_CIFAR, qkv_bias: bool = False,
                 attn_scale: float = 0.125, halting: HaltingOptions = HaltingOptions(),
                 merge: MergeOptions | None = MergeOptions()):
        super().__init__()
        if halting.score not in SCORES:
            raise ValueError(f"halting score must be one of {SCORES}, got {halting.score!r}")
        if merge is not None and not 0 <= merge.after < depth - 1:
            raise ValueError(f"merging after block {merge.after} needs a block after it (depth {depth})")
        self.input_shape = (in_channels, img_size, img_size)
        self.halting, self.merge_options = halting, merge
        self.sps = SPS(in_channels, dim, pool_after)
        self.blocks = nn.ModuleList(ATBlock(dim, heads, mlp_ratio, qkv_bias, attn_scale, halting)
                                    for _ in range(depth))
        self.merge = None if merge is None else TokenMerge(merge.r, merge.similarity, "tokens")
        self.merge_flags = None if merge is None else TokenMerge(merge.r, merge.similarity, "flags")
        self.head = nn.Linear(dim, num_classes)
        self.cumulative: Tensor | None = None  # [T, L, B, N] of the last forward
        self.keep: Tensor | None = None

    def _step(self, x: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        x = self.sps(x)
        cumulative, sums, keeps = None, [], []
        for i, block in enumerate(cast("Iterable[ATBlock]", self.blocks)):
            a = block.accumulate(x)
            cumulative = a if cumulative is None else cumulative + a
            keep = block.halt(cumulative)
            sums.append(cumulative)
            keeps.append(keep)
            x = block(x, keep)
            if self.merge_options is not None and i == self.merge_options.after:
                assert self.merge is not None and self.merge_flags is not None  # built with merge_options
                x, flags = self.merge(x, keep), self.merge_flags(x, keep)
                cumulative = cumulative + flags
        return self.head(x.mean(1)), sums, keeps

    def step(self, x: Tensor) -> Tensor:
        return self._step(x)[0]

    def forward(self, x: Tensor) -> Tensor:
        """Mean over T of the step outputs; keeps every (step, block)'s cumulative score and keep mask."""
        self.reset()
        outs, sums, keeps = [], [], []
        for x_t in x:
            y, s, k = self._step(x_t)
            outs.append(y)
            sums.append(torch.stack(s))
            keeps.append(torch.stack(k))
        self.cumulative, self.keep = torch.stack(sums), torch.stack(keeps)
        return torch.stack(outs).mean(0)

    def reset(self) -> None:
        super().reset()
        for block in cast("Iterable[ATBlock]", self.blocks):
            block.halting_score.reset()

    def auxiliary_loss(self) -> Tensor:
        """Ponder loss of the last forward: ``ponder_weight * mean_{b,k} rho / (T L)`` with
        ``rho = sum_{t,l} keep + sum_{t,l} sg(keep) (1 - H)``: the processed (block, step) count (gradient through
        the keep mask's surrogate) plus A-ViT's remainder generalised to the 2-D sum (gradient -1 per later
        live position through every score)."""
        if self.keep is None or self.cumulative is None:
            raise RuntimeError("auxiliary_loss() needs a forward pass first")
        rho = self.keep + self.keep.detach() * (1 - self.cumulative)
        steps, depth = rho.shape[:2]
        return self.halting.ponder_weight * rho.sum((0, 1)).mean() / (steps * depth)

    def halting_statistics(self) -> HaltingStatistics:
        """Live tokens of the last forward."""
        if self.keep is None:
            raise RuntimeError("halting_statistics() needs a forward pass first")
        return HaltingStatistics(self.keep.detach().cpu().numpy())


def keep_nodes(model: ATSpikformer) -> list[str]:
    """IR node names of each block's keep mask (``TokenHalting``), in block order."""
    return [f"blocks.{i}.halt" for i in range(len(model.blocks))]


def atsnn_digits(num_classes: int = 10, merge: bool = True) -> ATSpikformer:
    """sklearn digits: 1x8x8, D = 64, two blocks, 4 heads, pool after SPS stage 4 (16 tokens); merges 2 tokens
    after block 0."""
    return ATSpikformer(in_channels=1, img_size=8, dim=64, depth=2, heads=4, num_classes=num_classes,
                        pool_after=(False, False, False, True), merge=MergeOptions(after=0, r=2) if merge else None)


def atsnn_4_384(num_classes: int = 10, merge: bool = True) -> ATSpikformer:
    """CIFAR-10/100 Spikformer-4-384 (64 tokens, Q/K/V with bias) with halting; merges 8 tokens after block 0."""
    return ATSpikformer(in_channels=3, img_size=32, dim=384, depth=4, heads=12, num_classes=num_classes,
                        qkv_bias=True, merge=MergeOptions(after=0, r=8) if merge else None)


CONFIGS: dict[str, Callable[..., ATSpikformer]] = {
    "atsnn-digits": atsnn_digits,
    "atsnn-4-384": atsnn_4_384,
}
