"""SpikingResformer (Shi et al., CVPR 2024), written per time step; "SpikingResformer: Bridging
ResNet and Vision Transformer in Spiking Neural Networks" (arXiv 2403.14302); see docs/models/spikingresformer.md.

One step of ``SpikingResformer.step`` on ``x [B, C_in, H, W]``::

    x = stem(x)                            # Conv7x7 s2 -> BN -> MaxPool 3x3 s2 (no LIF; the pool acts on reals)
    for each stage i:                      # planes P_i, heads h_i, patch size p_i, n_i blocks
        x = downsample(x)   if i > 0       # LIF -> Conv3x3 s2 -> BN
        n_i times: x = DSSA(x); x = GWFFN(x)
    y = head(mean over positions of x)     # Linear, no bias; forward() averages y over T

Every sub-block is ``LIF -> conv -> BN`` with a membrane shortcut, so the residual stream is real and every conv
input is binary. ``GWFFN(x) = x + down(h + mid(h))`` with ``h = up(x)``: up ``LIF -> Conv1x1 (P -> rP) -> BN``,
mid ``LIF -> Conv3x3 grouped (groups of group_size channels) -> BN``, down ``LIF -> Conv1x1 (rP -> P) -> BN``.
All convs and the head have no bias (the official code's layout). Parameter counts without BN parameters equal
the published ones: Ti 11.14 M, S 17.76 M, M 35.52 M, L 60.27 M.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from snncompile.nn.dssa import DEFAULT_FIRING_RATE, DSSA
from snncompile.nn.layers import StepModel
from snncompile.nn.lif import LIF

STEMS = ("imagenet", "cifar")


class LIFConvBN(nn.Module):
    """``BN(Conv_kxk(LIF(x)))``: conv without bias, padding ``k // 2``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.lif = LIF()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(self.lif(x)))


class GWFFN(nn.Module):
    """Group-wise spiking feed-forward network with membrane shortcuts: ``x + down(h + mid(h))``, ``h = up(x)``."""

    def __init__(self, dim: int, ratio: int = 4, group_size: int = 64):
        super().__init__()
        hidden = dim * ratio
        if hidden % group_size:
            raise ValueError(f"hidden width {hidden} must be divisible by group_size {group_size}")
        self.up = LIFConvBN(dim, hidden, 1)
        self.mid = LIFConvBN(hidden, hidden, 3, groups=hidden // group_size)
        self.down = LIFConvBN(hidden, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.up(x)
        return self.down(h + self.mid(h)) + x


class Stem(nn.Module):
    """``imagenet``: ``MaxPool3x3 s2 p1(BN(Conv7x7 s2 p3(x)))`` (H / 4); ``cifar``: ``BN(Conv3x3 p1(x))`` (H)."""

    def __init__(self, in_channels: int, out_channels: int, kind: str = "imagenet"):
        super().__init__()
        if kind not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {kind!r}")
        big = kind == "imagenet"
        self.conv = nn.Conv2d(in_channels, out_channels, 7 if big else 3, stride=2 if big else 1,
                              padding=3 if big else 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if big else None
        self.halvings = 2 if big else 0  # each stride-2 window maps a size s to ceil(s / 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return x if self.pool is None else self.pool(x)


class Stage(nn.Module):
    """Optional downsample (``LIF -> Conv3x3 s2 -> BN``), then ``blocks`` x (DSSA, GWFFN)."""

    def __init__(self, in_dim: int, dim: int, heads: int, patch_size: int, blocks: int, downsample: bool,
                 group_size: int, ffn_ratio: int, firing_rate: float):
        super().__init__()
        self.downsample = LIFConvBN(in_dim, dim, 3, stride=2) if downsample else None
        self.layers = nn.ModuleList()
        for _ in range(blocks):
            self.layers.append(DSSA(dim, heads, patch_size, firing_rate))
            self.layers.append(GWFFN(dim, ffn_ratio, group_size))

    def forward(self, x: Tensor) -> Tensor:
        if self.downsample is not None:
            x = self.downsample(x)
        for layer in self.layers:
            x = layer(x)
        return x


class SpikingResformer(StepModel):
    """``step`` maps images ``[B, in_channels, img_size, img_size]`` to logits ``[B, classes]``.

    Per stage i: ``planes[i]`` channels, ``heads[i]`` DSSA heads, patch size ``patch_sizes[i]``, ``blocks[i]``
    (DSSA, GWFFN) pairs. ``firing_rate`` initialises every DSSA firing-rate buffer (see snncompile.nn.dssa).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        img_size: int,
        planes: tuple[int, ...],
        heads: tuple[int, ...],
        patch_sizes: tuple[int, ...],
        num_classes: int,
        blocks: tuple[int, ...] = (1, 2, 3),
        stem: str = "imagenet",
        group_size: int = 64,
        ffn_ratio: int = 4,
        firing_rate: float = DEFAULT_FIRING_RATE,
    ):
        super().__init__()
        if not len(planes) == len(heads) == len(patch_sizes) == len(blocks):
            raise ValueError("planes, heads, patch_sizes and blocks need one entry per stage")
        self.input_shape = (in_channels, img_size, img_size)
        self.stem = Stem(in_channels, planes[0], stem)
        size = img_size
        for _ in range(self.stem.halvings):
            size = (size + 1) // 2
        self.stages = nn.ModuleList()
        for i, (dim, h, p, n) in enumerate(zip(planes, heads, patch_sizes, blocks, strict=True)):
            size = size if i == 0 else (size + 1) // 2
            if size % p:
                raise ValueError(f"stage {i}: feature map {size}x{size} is not divisible by patch size {p}")
            self.stages.append(Stage(planes[i - 1] if i else dim, dim, h, p, n, i > 0, group_size, ffn_ratio,
                                     firing_rate))
        self.head = nn.Linear(planes[-1], num_classes, bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        """The official initialisation: truncated normal (std 0.02) weights, BN weight 1 and bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)

    def step(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(torch.flatten(x, 2).mean(2))


def _imagenet(planes: tuple[int, int, int], heads: tuple[int, int, int]) -> Callable[..., SpikingResformer]:
    def build(num_classes: int = 1000) -> SpikingResformer:
        return SpikingResformer(in_channels=3, img_size=224, planes=planes, heads=heads, patch_sizes=(4, 2, 1),
                                num_classes=num_classes)
    return build


spikingresformer_ti = _imagenet((64, 192, 384), (1, 3, 6))
spikingresformer_s = _imagenet((64, 256, 512), (1, 4, 8))
spikingresformer_m = _imagenet((64, 384, 768), (1, 6, 12))
spikingresformer_l = _imagenet((128, 512, 1024), (2, 8, 16))


def spikingresformer_cifar(num_classes: int = 10) -> SpikingResformer:
    """The official direct-training CIFAR model: Ti's stages with the 3x3 stem (32x32 input, no max-pool)."""
    return SpikingResformer(in_channels=3, img_size=32, planes=(64, 192, 384), heads=(1, 3, 6),
                            patch_sizes=(4, 2, 1), num_classes=num_classes, stem="cifar")


def spikingresformer_digits(num_classes: int = 10) -> SpikingResformer:
    """Tiny model for sklearn digits (1x8x8): 3x3 stem, stages (32, 64) with heads (1, 2), patch sizes (2, 1),
    one (DSSA, GWFFN) pair each, groups of 32 channels; 16 DSSA tokens in both stages."""
    return SpikingResformer(in_channels=1, img_size=8, planes=(32, 64), heads=(1, 2), patch_sizes=(2, 1),
                            blocks=(1, 1), num_classes=num_classes, stem="cifar", group_size=32)


CONFIGS: dict[str, Callable[..., SpikingResformer]] = {
    "spikingresformer-ti": spikingresformer_ti,
    "spikingresformer-s": spikingresformer_s,
    "spikingresformer-m": spikingresformer_m,
    "spikingresformer-l": spikingresformer_l,
    "spikingresformer-cifar": spikingresformer_cifar,
    "spikingresformer-digits": spikingresformer_digits,
}
