"""QKFormer (Zhou et al., NeurIPS 2024), written per time step; "QKFormer: Hierarchical Spiking
Transformer using Q-K Attention" (arXiv 2403.16552); see docs/models/qkformer.md.

A hierarchical spiking transformer of S stages (3 in the paper). Stage i has ``D / 2^(S-1-i)`` channels; the
first S-1 stages use Q-K attention, the last one Spikformer's SSA. One step of ``QKFormer.step`` on ``x [B, C, H, W]``::

    for each stage:  X = PatchEmbed(X)                  # [B, C_i, H_i, W_i] spike counts in {0, 1, 2}
                     X = X + Attn(X); X = X + MLP(X)    # on tokens [B, H_i W_i, C_i], spike-sum residuals
    y = head(mean over tokens of X)                     # [B, classes]; forward() averages y over T

Q-K token attention (QKTA) and channel attention (QKCA), ``d = D / heads``, all spikes binary::

    Q, K = LIF(BN(Linear(X)))                              (no bias)
    QKTA:  A[n, h] = LIF_{0.5}(sum_{j<d} Q[n, h*d + j]);   X'[n, c] = A[n, c // d] * K[n, c]
    QKCA:  A[0, c] = LIF_{0.5}(sum_n Q[n, c]);             X'[n, c] = A[0, c] * K[n, c]
    out  = LIF(BN(Linear(X')))                             (with bias)

Patch embedding with the deformed shortcut (SPEDS): ``main = chain of LIF(MaxPool?(BN(Conv3x3)))`` and
``shortcut = LIF(BN(Conv1x1, stride 2^pools))`` of the same input, ``out = main + shortcut``. The first embedding
starts with a stem ``LIF(MaxPool?(BN(Conv3x3)))`` whose output feeds both paths. Max-pools act on the BN output
(before the LIF), as in the official code.

Every LIF is per sample and element: unlike the official code (whose stage-3 projection LIF runs over a
``[T*B, ...]`` tensor, leaking membrane across samples), results do not depend on batch composition.
Parameter counts (BN affine included) are in docs/models/qkformer.md and tested against the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from torch import Tensor, nn

from snncompile.nn.layers import StepModel, TokenBatchNorm
from snncompile.nn.lif import LIF
from snncompile.nn.spikformer import MLP, Block


class HeadSum(nn.Module):
    """Leaf: ``[B, N, D] -> [B, N, heads]``, ``y[b, n, h] = sum_{j < d} x[b, n, h*d + j]`` with ``d = D / heads``."""

    def __init__(self, heads: int):
        super().__init__()
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(*x.shape[:-1], self.heads, x.shape[-1] // self.heads).sum(-1)

    def extra_repr(self) -> str:
        return f"heads={self.heads}"


class TokenSum(nn.Module):
    """Leaf: ``[B, N, D] -> [B, 1, D]``, ``y[b, 0, c] = sum_n x[b, n, c]``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(1, keepdim=True)


class SpikeMask(nn.Module):
    """Leaf: ``mask * x`` with each mask element repeated ``x.shape[i] / mask.shape[i]`` times along axis i.

    A mask ``[B, N, heads]`` on ``[B, N, D]`` gates each head's channels per token; ``[B, 1, D]`` gates channels.
    """

    def forward(self, mask: Tensor, x: Tensor) -> Tensor:
        for axis in range(1, x.dim()):
            if mask.shape[axis] != x.shape[axis]:
                mask = mask.repeat_interleave(x.shape[axis] // mask.shape[axis], dim=axis)
        return mask * x


class QKAttention(nn.Module):
    """Q-K attention on tokens ``[B, N, D]``: ``LIF(BN(Linear(SpikeMask(LIF_{0.5}(reduce(Q)), K))))``, where
    ``reduce`` is ``HeadSum`` (token attention, QKTA) or ``TokenSum`` (channel attention, QKCA)."""

    def __init__(self, dim: int, reduce: nn.Module, qk_bias: bool = False, attn_threshold: float = 0.5):
        super().__init__()
        self.q_linear = nn.Linear(dim, dim, bias=qk_bias)
        self.q_bn = TokenBatchNorm(dim)
        self.q_lif = LIF()
        self.k_linear = nn.Linear(dim, dim, bias=qk_bias)
        self.k_bn = TokenBatchNorm(dim)
        self.k_lif = LIF()
        self.reduce = reduce
        self.attn_lif = LIF(v_threshold=attn_threshold)
        self.mask = SpikeMask()
        self.proj_linear = nn.Linear(dim, dim)
        self.proj_bn = TokenBatchNorm(dim)
        self.proj_lif = LIF()

    def forward(self, x: Tensor) -> Tensor:
        q = self.q_lif(self.q_bn(self.q_linear(x)))
        k = self.k_lif(self.k_bn(self.k_linear(x)))
        a = self.attn_lif(self.reduce(q))
        return self.proj_lif(self.proj_bn(self.proj_linear(self.mask(a, k))))


def qk_attention(kind: str, dim: int, heads: int) -> QKAttention:
    """``"token"``: QKTA (one mask value per token and head); ``"channel"``: QKCA (one per channel)."""
    if kind == "token":
        return QKAttention(dim, HeadSum(heads))
    if kind == "channel":
        return QKAttention(dim, TokenSum())
    raise ValueError(f"unknown Q-K attention {kind!r}; choose 'token' or 'channel'")


class QKBlock(nn.Module):
    """QKFormer block with spike-sum shortcuts: ``x = x + QKAttention(x); x = x + MLP(x)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, attention: str = "token"):
        super().__init__()
        self.attn = qk_attention(attention, dim, heads)
        self.mlp = MLP(dim, mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class ConvBNPoolLIF(nn.Module):
    """``LIF(MaxPool(BN(Conv3x3(x))))`` (conv without bias, padding 1; max-pool 3, stride 2, pad 1 if ``pool``)."""

    def __init__(self, in_channels: int, out_channels: int, pool: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if pool else None
        self.lif = LIF()

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        if self.pool is not None:
            x = self.pool(x)
        return self.lif(x)


class PatchEmbed(nn.Module):
    """Spiking patch embedding with deformed shortcut: ``[B, C, H, W] -> [B, out, H / 2^p, W / 2^p]``.

    ``s = stem(x)`` if a stem is given, else ``x``; ``main = ConvBNPoolLIF chain(s)`` (pool flags ``pools``,
    p = number of pools); ``out = main + LIF(BN(Conv1x1 stride 2^p, no bias (s)))``.
    """

    def __init__(self, in_channels: int, out_channels: int, pools: tuple[bool, ...],
                 stem_channels: int | None = None, stem_pool: bool = False):
        super().__init__()
        self.stem = ConvBNPoolLIF(in_channels, stem_channels, stem_pool) if stem_channels else None
        width = stem_channels or in_channels
        self.main = nn.ModuleList(ConvBNPoolLIF(width if i == 0 else out_channels, out_channels, pool)
                                  for i, pool in enumerate(pools))
        self.shortcut_conv = nn.Conv2d(width, out_channels, kernel_size=1, stride=2 ** sum(pools), bias=False)
        self.shortcut_bn = nn.BatchNorm2d(out_channels)
        self.shortcut_lif = LIF()

    def forward(self, x: Tensor) -> Tensor:
        if self.stem is not None:
            x = self.stem(x)
        shortcut = self.shortcut_lif(self.shortcut_bn(self.shortcut_conv(x)))
        for layer in self.main:
            x = layer(x)
        return x + shortcut


@dataclass(frozen=True)
class Layout:
    """Where the patch embeddings pool: the stem, the first embedding's main path, each later embedding's."""

    stem_pool: bool
    first_pools: tuple[bool, ...]
    stage_pools: tuple[bool, ...]


LAYOUTS = {
    # ImageNet code: 224 -> stem pool 112 -> 56 (3136 tokens) -> 28 (784) -> 14 (196).
    "imagenet": Layout(stem_pool=True, first_pools=(True, False), stage_pools=(True, False)),
    # CIFAR code: 32 (1024 tokens, stride-1 shortcut) -> 16 (256) -> 8 (64); stage pools after the 2nd conv.
    "cifar": Layout(stem_pool=False, first_pools=(False,), stage_pools=(False, True)),
}


def to_tokens(x: Tensor) -> Tensor:
    """``[B, C, H, W] -> [B, H*W, C]``."""
    return x.flatten(2).transpose(1, 2)


def to_image(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``[B, H*W, C] -> [B, C, H, W]`` with ``shape = (B, C, H, W)``: the inverse of ``to_tokens``."""
    return x.transpose(1, 2).reshape(shape)


class QKFormer(StepModel):
    """Hierarchical QKFormer: ``step`` maps images ``[B, in_channels, img_size, img_size]`` to ``[B, classes]``.

    ``depths[i]`` blocks in stage i; all but the last stage use Q-K attention (``attention[i]``: ``"token"`` or
    ``"channel"``, default token), the last uses Spikformer blocks (SSA with ``attn_scale``, Q/K/V without bias).
    ``heads`` is shared by all stages, as in the official code.
    """

    def __init__(self, *, in_channels: int, img_size: int, dim: int, depths: tuple[int, ...], heads: int,
                 num_classes: int, mlp_ratio: int = 4, layout: str = "imagenet",
                 attention: tuple[str, ...] | None = None, attn_scale: float = 0.125):
        super().__init__()
        stages = len(depths)
        dims = [dim // 2 ** (stages - 1 - i) for i in range(stages)]
        attention = attention or ("token",) * (stages - 1)
        if stages < 2 or len(attention) != stages - 1:
            raise ValueError(f"need >= 2 stages and one attention kind per Q-K stage, got {depths}, {attention}")
        if dims[0] % 2 or any(d % heads for d in dims) or dims[0] * 2 ** (stages - 1) != dim:
            raise ValueError(f"dim {dim} must halve {stages - 1} times to an even width divisible by {heads} heads")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; choose one of {sorted(LAYOUTS)}")
        lay = LAYOUTS[layout]
        self.input_shape = (in_channels, img_size, img_size)
        self.patch_embeds = nn.ModuleList(
            [PatchEmbed(in_channels, dims[0], lay.first_pools, stem_channels=dims[0] // 2, stem_pool=lay.stem_pool)]
            + [PatchEmbed(dims[i - 1], dims[i], lay.stage_pools) for i in range(1, stages)])
        self.stages = nn.ModuleList(
            [nn.ModuleList(QKBlock(dims[i], heads, mlp_ratio, attention[i]) for _ in range(depths[i]))
             for i in range(stages - 1)]
            + [nn.ModuleList(Block(dim, heads, mlp_ratio, qkv_bias=False, attn_scale=attn_scale)
                             for _ in range(depths[-1]))])
        self.head = nn.Linear(dim, num_classes)

    def step(self, x: Tensor) -> Tensor:
        tokens = None
        for embed, blocks in zip(self.patch_embeds, self.stages, strict=True):
            x = embed(x if tokens is None else to_image(tokens, x.shape))
            tokens = to_tokens(x)
            for block in cast("Iterable[nn.Module]", blocks):  # each stage is a ModuleList
                tokens = block(tokens)
        assert tokens is not None  # a QKFormer has at least one stage
        return self.head(tokens.mean(1))


def _hst(dim: int, heads: int, depths: tuple[int, ...], layout: str, img_size: int, num_classes: int) -> QKFormer:
    return QKFormer(in_channels=3, img_size=img_size, dim=dim, depths=depths, heads=heads, num_classes=num_classes,
                    layout=layout)


def qkformer_hst_10_384(num_classes: int = 1000) -> QKFormer:
    """ImageNet HST-10-384: blocks {1, 2, 7}, widths 96/192/384, 6 heads, tokens 3136/784/196."""
    return _hst(384, 6, (1, 2, 7), "imagenet", 224, num_classes)


def qkformer_hst_10_512(num_classes: int = 1000) -> QKFormer:
    """ImageNet HST-10-512: blocks {1, 2, 7}, widths 128/256/512, 8 heads."""
    return _hst(512, 8, (1, 2, 7), "imagenet", 224, num_classes)


def qkformer_hst_10_768(num_classes: int = 1000) -> QKFormer:
    """ImageNet HST-10-768: blocks {1, 2, 7}, widths 192/384/768, 12 heads."""
    return _hst(768, 12, (1, 2, 7), "imagenet", 224, num_classes)


def qkformer_hst_4_384(num_classes: int = 100) -> QKFormer:
    """CIFAR HST-4-384: blocks {1, 1, 2}, widths 96/192/384, 8 heads, tokens 1024/256/64. The default head is
    CIFAR-100's, the model the published 6.74 M counts (``num_classes=10`` for CIFAR-10: 6.71 M)."""
    return _hst(384, 8, (1, 1, 2), "cifar", 32, num_classes)


def qkformer_digits(num_classes: int = 10) -> QKFormer:
    """Small model for sklearn digits: 1x8x8, widths 32/64, 4 heads; a QKTA stage on 64 tokens, then an SSA
    stage on 16 tokens (CIFAR layout)."""
    return QKFormer(in_channels=1, img_size=8, dim=64, depths=(1, 1), heads=4, num_classes=num_classes,
                    layout="cifar")


CONFIGS: dict[str, Callable[..., QKFormer]] = {
    "qkformer-hst-10-384": qkformer_hst_10_384,
    "qkformer-hst-10-512": qkformer_hst_10_512,
    "qkformer-hst-10-768": qkformer_hst_10_768,
    "qkformer-hst-4-384": qkformer_hst_4_384,
    "qkformer-digits": qkformer_digits,
}
