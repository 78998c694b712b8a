"""Dual spike self-attention (DSSA) of SpikingResformer, per time step (Shi et al., CVPR 2024, arXiv 2403.14302);
see docs/models/spikingresformer.md.

On ``x [B, C, H, W]`` (the real residual stream) with ``h`` heads, ``d = C / h``, patch size ``p``::

    x_s  = LIF(x)                                          # binary
    y    = BN(Conv_pxp stride p (C -> 2C, no bias)(x_s))   # real [B, 2C, H/p, W/p], N' = HW / p^2
    attn = LIF((y1^T @ x_s) * c1)                          # per head: [N', d] @ [d, HW] -> binary [B, h, N', HW]
    out  = LIF((y2 @ attn) * c2)                           # per head: [d, N'] @ [N', HW] -> reshaped to [B, C, H, W]
    DSSA(x) = BN(Conv1x1(out)) + x                         # membrane shortcut: the stream stays real

    c1 = 1 / sqrt(fr_x * d),   c2 = 1 / sqrt(fr_attn * N')

``DSSAScore`` and ``DSSAAggregate`` are the two products (tracer leaves, one IR node each); every LIF stays a
visible module. ``fr`` is a per-head firing-rate buffer of each product's spike operand: in training mode it follows
the data as an exponential average (the first update copies the rate), in eval mode it is fixed;
``calibrate_firing_rates`` sets it from data.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from snncompile.nn.lif import LIF

DEFAULT_FIRING_RATE = 0.25  # before calibration or training: c = 2 / sqrt(inner)
FIRING_RATE_MOMENTUM = 0.999  # the official code's exponential average


def dssa_scale(firing_rate: Tensor, inner: int) -> Tensor:
    """``1 / sqrt(firing_rate * inner)`` per head: the variance-normalising scale of a real x spike product whose
    spike operand fires at ``firing_rate`` over an inner dimension of ``inner`` terms."""
    return 1.0 / torch.sqrt(firing_rate * inner)


class _SpikeProduct(nn.Module):
    """A per-head product of a real operand with spikes, scaled by ``dssa_scale(firing_rate, inner)``."""

    firing_rate: Tensor  # buffers (register_buffer), declared for the type checker
    updates: Tensor

    def __init__(self, heads: int, firing_rate: float = DEFAULT_FIRING_RATE, momentum: float = FIRING_RATE_MOMENTUM):
        super().__init__()
        if not 0.0 < firing_rate <= 1.0:
            raise ValueError(f"firing_rate must be in (0, 1], got {firing_rate}")
        self.heads = heads
        self.momentum = momentum
        self.register_buffer("firing_rate", torch.full((heads,), float(firing_rate)))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def head_rates(self, spikes: Tensor) -> Tensor:
        """Mean of ``spikes [B, ...]`` per head (head k owns the k-th of ``heads`` equal channel slices)."""
        return spikes.detach().reshape(spikes.shape[0], self.heads, -1).mean((0, 2))

    def _track(self, spikes: Tensor) -> None:
        rate = self.head_rates(spikes).to(self.firing_rate.dtype)
        if self.updates.item() == 0:
            self.firing_rate.copy_(rate)
        else:
            self.firing_rate.mul_(self.momentum).add_(rate, alpha=1.0 - self.momentum)
        self.updates += 1

    def extra_repr(self) -> str:
        return f"heads={self.heads}, momentum={self.momentum}"


class DSSAScore(_SpikeProduct):
    """``forward(y [B, 2C, H', W'], x [B, C, H, W] spikes) -> [B, h, N', HW]``, per head
    ``(y1_k^T @ x_k) * c1_k`` with ``y1_k`` channels ``2dk .. 2dk + d - 1`` of y and ``c1 = dssa_scale(fr_x, d)``."""

    def forward(self, y: Tensor, x: Tensor) -> Tensor:
        if self.training:
            self._track(x)
        b, d = x.shape[0], x.shape[1] // self.heads
        y1 = y.reshape(b, self.heads, 2 * d, -1)[:, :, :d]
        xs = x.reshape(b, self.heads, d, -1)
        return (y1.transpose(-1, -2) @ xs) * dssa_scale(self.firing_rate, d).view(-1, 1, 1)


class DSSAAggregate(_SpikeProduct):
    """``forward(y [B, 2C, H', W'], attn [B, h, N', HW] spikes) -> [B, C, HW]``, per head ``(y2_k @ attn_k) * c2_k``
    with ``y2_k`` channels ``2dk + d .. 2dk + 2d - 1`` of y and ``c2 = dssa_scale(fr_attn, N')``."""

    def forward(self, y: Tensor, attn: Tensor) -> Tensor:
        if self.training:
            self._track(attn)
        b, tokens = y.shape[0], attn.shape[2]
        d = y.shape[1] // (2 * self.heads)
        y2 = y.reshape(b, self.heads, 2 * d, -1)[:, :, d:]
        out = (y2 @ attn) * dssa_scale(self.firing_rate, tokens).view(-1, 1, 1)
        return out.reshape(b, self.heads * d, -1)


class DSSA(nn.Module):
    """Dual spike self-attention with a membrane shortcut on ``[B, C, H, W]`` (module docstring)."""

    def __init__(self, dim: int, heads: int, patch_size: int, firing_rate: float = DEFAULT_FIRING_RATE):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.lif_in = LIF()
        self.conv = nn.Conv2d(dim, 2 * dim, patch_size, stride=patch_size, bias=False)
        self.bn = nn.BatchNorm2d(2 * dim)
        self.score = DSSAScore(heads, firing_rate)
        self.lif_attn = LIF()
        self.aggregate = DSSAAggregate(heads, firing_rate)
        self.lif_out = LIF()
        self.proj = nn.Conv2d(dim, dim, 1, bias=False)
        self.bn_proj = nn.BatchNorm2d(dim)

    def forward(self, x: Tensor) -> Tensor:
        s = self.lif_in(x)
        y = self.bn(self.conv(s))
        attn = self.lif_attn(self.score(y, s))
        out = self.lif_out(self.aggregate(y, attn).reshape(x.shape))
        return self.bn_proj(self.proj(out)) + x


@torch.no_grad()
def calibrate_firing_rates(model: nn.Module, x_seq: Tensor, min_rate: float = 1e-3) -> dict[str, list[float]]:
    """Set every DSSA product's ``firing_rate`` to the per-head rate of its spike operand on ``x_seq [T, B, ...]``
    (mean over steps, samples, channels of the head and positions), in place; leaves ``model`` in eval mode.

    Products are calibrated in module order, one forward pass each, so every rate is measured with the final scales
    of the products before it (c1 of a block changes the attention spikes that c2 is measured on). Rates below
    ``min_rate`` (a silent head would give an infinite scale) are raised to it. Returns the rates by module name.
    """
    model.eval()
    rates: dict[str, list[float]] = {}
    for name, product in model.named_modules():
        if not isinstance(product, _SpikeProduct):
            continue
        seen: list[Tensor] = []
        hook = product.register_forward_pre_hook(lambda m, args, seen=seen: seen.append(m.head_rates(args[1])))
        try:
            model(x_seq)
        finally:
            hook.remove()
        rate = torch.stack(seen).mean(0).clamp_min(min_rate)
        product.firing_rate.copy_(rate.to(product.firing_rate.dtype))
        rates[name] = rate.tolist()
    return rates
