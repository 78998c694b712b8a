"""Kernels of QKFormer's Q-K attention nodes (see snncompile.sim.kernels for the contract).

Sums of spikes are sums of small integers and the mask multiplies by 0 or 1, so these are exact in any float
order; they are still written as the torch modules in snncompile.nn.qkformer compute them.
"""

from __future__ import annotations

from typing import Any

import torch

from snncompile.ir.nodes import HeadSum, SpikeMask, Sum, TokenSum
from snncompile.sim.kernels.registry import Step, kernel


@kernel(HeadSum)
def _head_sum(node: HeadSum, p: Any, dt: float) -> Step:
    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        t = x["input"]
        return t.reshape(*t.shape[:-1], node.heads, t.shape[-1] // node.heads).sum(-1), None
    return step


@kernel(TokenSum)
def _token_sum(node: TokenSum, p: Any, dt: float) -> Step:
    return lambda x, state: (x["input"].sum(1, keepdim=True), None)


@kernel(Sum)
def _sum(node: Sum, p: Any, dt: float) -> Step:
    return lambda x, state: (x["input"].sum(node.axis % (x["input"].dim() - 1) + 1), None)


def block_broadcast(mask: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Repeat each mask element ``shape[i] / mask.shape[i]`` times along every axis i (batch axis included)."""
    for axis, (m, s) in enumerate(zip(mask.shape, shape, strict=True)):
        if m != s:
            mask = mask.repeat_interleave(s // m, dim=axis)
    return mask


@kernel(SpikeMask)
def _spike_mask(node: SpikeMask, p: Any, dt: float) -> Step:
    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        return block_broadcast(x["mask"], x["input"].shape) * x["input"], None
    return step
