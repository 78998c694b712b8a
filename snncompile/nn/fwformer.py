"""FWformer (Wang et al., "Fourier or Wavelet bases as counterpart self-attention in spikformer", 2024): Spikformer
with its spiking self-attention replaced by a parameter-free transform with fixed bases (arXiv 2403.18228); see
docs/models/fwformer.md.

One step of ``FWformer.step`` on ``x [B, C, H, W]`` (SPS, MLP and the head are Spikformer's own modules)::

    X0  = SPS(x)                                   # [B, N, D], spike counts
    X'  = X  + Mixer(X)                            # spike-sum residuals, per block
    X'' = X' + MLP(X')
    y   = head(mean over tokens of X_L)            # [B, classes]; forward() averages y over T

    Mixer(X) = LIF(TokenBN(transform(X)))          # post = "bn-lif" (default): spike-form output
             = LIF(TokenBN(Linear(transform(X))))  # post = "linear-bn-lif"

``transform`` is a leaf of snncompile.nn.mixers: ``fft1d`` Re(DFT along tokens), ``fft2d`` Re(2-D DFT over tokens x
channels, FNet), ``wt2d`` one-level 2-D Haar, ``dwtc`` Haar levels 1..``levels`` mixed by learnable weights.
``part`` picks the real or imaginary part of the DFT; ``wavelet_axes`` whether the 2-D Haar runs over tokens x
channels or over the patch grid of every channel; ``levels`` defaults to 1 for wt2d and 2 for dwtc.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor, nn

from snncompile.nn.layers import StepModel, TokenBatchNorm
from snncompile.nn.lif import LIF
from snncompile.nn.mixers import BasisMixer, FourierMixer, WaveletMixer, check_choice
from snncompile.nn.spikformer import MLP, POOL_ALL, POOL_CIFAR, SPS

MIXERS = ("fft1d", "fft2d", "wt2d", "dwtc")
POSTS = ("bn-lif", "linear-bn-lif")


def token_side(img_size: int, pool_after: tuple[bool, ...]) -> int:
    """Side of the square patch grid after SPS: every MaxPool(3, stride 2, pad 1) maps a side s to ceil(s / 2)."""
    side = img_size
    for pool in pool_after:
        if pool:
            side = (side - 1) // 2 + 1
    return side


def make_transform(mixer: str, side: int, dim: int, part: str = "real", levels: int | None = None,
                   wavelet_axes: str = "tokens-channels") -> BasisMixer:
    """The leaf transform of one block for a ``side x side`` patch grid and ``dim`` channels."""
    check_choice("mixer", mixer, MIXERS)
    if mixer in ("fft1d", "fft2d"):
        return FourierMixer(side * side, dim, two_d=mixer == "fft2d", part=part)
    if mixer == "wt2d":
        return WaveletMixer((side, side), dim, axes=wavelet_axes, levels=(levels or 1,))
    return WaveletMixer((side, side), dim, axes=wavelet_axes, levels=tuple(range(1, (levels or 2) + 1)),
                        learnable=True)


class Mixer(nn.Module):
    """The block's token mixer in place of SSA: ``LIF(TokenBN([Linear](transform(x))))``."""

    def __init__(self, transform: BasisMixer, dim: int, post: str = "bn-lif"):
        super().__init__()
        check_choice("post", post, POSTS)
        self.transform = transform
        self.linear = nn.Linear(dim, dim) if post == "linear-bn-lif" else None
        self.bn = TokenBatchNorm(dim)
        self.lif = LIF()

    def forward(self, x: Tensor) -> Tensor:
        x = self.transform(x)
        if self.linear is not None:
            x = self.linear(x)
        return self.lif(self.bn(x))


class Block(nn.Module):
    """Encoder block with spike-sum shortcuts: ``x = x + Mixer(x); x = x + MLP(x)``."""

    def __init__(self, mixer: Mixer, dim: int, mlp_ratio: int):
        super().__init__()
        self.mixer = mixer
        self.mlp = MLP(dim, mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.mixer(x)
        return x + self.mlp(x)


class FWformer(StepModel):
    """FWformer-L-D: ``step`` maps images ``[B, in_channels, img_size, img_size]`` to logits ``[B, classes]``.

    ``input_shape`` is the per-sample shape of one step's input. Options: see the module docstring.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        img_size: int,
        dim: int,
        depth: int,
        num_classes: int,
        mixer: str = "fft1d",
        mlp_ratio: int = 4,
        pool_after: tuple[bool, bool, bool, bool] = POOL_CIFAR,
        part: str = "real",
        levels: int | None = None,
        wavelet_axes: str = "tokens-channels",
        post: str = "bn-lif",
    ):
        super().__init__()
        if dim % 8:
            raise ValueError(f"dim {dim} must be divisible by 8")
        side = token_side(img_size, pool_after)
        self.input_shape = (in_channels, img_size, img_size)
        self.sps = SPS(in_channels, dim, pool_after)
        self.blocks = nn.ModuleList(
            Block(Mixer(make_transform(mixer, side, dim, part, levels, wavelet_axes), dim, post), dim, mlp_ratio)
            for _ in range(depth)
        )
        self.head = nn.Linear(dim, num_classes)

    def step(self, x: Tensor) -> Tensor:
        x = self.sps(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(1))


def fwformer_4_384(mixer: str = "fft1d", num_classes: int = 10) -> FWformer:
    """CIFAR-10/100 layout of Spikformer-4-384: 32x32x3, pools after SPS stages 3 and 4 (8x8 = 64 tokens)."""
    return FWformer(in_channels=3, img_size=32, dim=384, depth=4, num_classes=num_classes, mixer=mixer)


def fwformer_imagenet(depth: int, dim: int, mixer: str = "fft1d", num_classes: int = 1000) -> FWformer:
    """ImageNet layout: 224x224x3, pools after all four SPS stages (14x14 = 196 tokens)."""
    return FWformer(in_channels=3, img_size=224, dim=dim, depth=depth, num_classes=num_classes, mixer=mixer,
                    pool_after=POOL_ALL)


def fwformer_2_256(mixer: str = "fft1d", num_classes: int = 10) -> FWformer:
    """CIFAR10-DVS layout of Spikformer-2-256: 2x128x128 event frames, pools after all four stages (64 tokens)."""
    return FWformer(in_channels=2, img_size=128, dim=256, depth=2, num_classes=num_classes, mixer=mixer,
                    pool_after=POOL_ALL)


def fwformer_digits(mixer: str = "fft1d", num_classes: int = 10) -> FWformer:
    """Tiny model for sklearn digits (as spikformer-digits): 1x8x8, D = 64, one block, 4x4 = 16 tokens."""
    return FWformer(in_channels=1, img_size=8, dim=64, depth=1, num_classes=num_classes, mixer=mixer,
                    pool_after=(False, False, False, True))


LAYOUTS: dict[str, Callable[..., FWformer]] = {
    "4-384": fwformer_4_384,
    "8-384": partial(fwformer_imagenet, 8, 384),
    "8-512": partial(fwformer_imagenet, 8, 512),
    "10-512": partial(fwformer_imagenet, 10, 512),
    "8-768": partial(fwformer_imagenet, 8, 768),
    "2-256": fwformer_2_256,
}

CONFIGS: dict[str, Callable[..., FWformer]] = {
    **{f"fwformer-{layout}-{mixer}": partial(build, mixer=mixer) for layout, build in LAYOUTS.items()
       for mixer in MIXERS},
    "fwformer-digits": fwformer_digits,
    **{f"fwformer-digits-{mixer}": partial(fwformer_digits, mixer=mixer) for mixer in MIXERS[1:]},
}
