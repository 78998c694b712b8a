"""Kernels of the static token mask and the token-row wiring (equations: snncompile.ir.nodes.static_masks)."""

from __future__ import annotations

from typing import Any

import torch

from snncompile.ir import nodes as n
from snncompile.sim.kernels.registry import Step, kernel


@kernel(n.StaticTokenMask)
def _static_token_mask(node: n.StaticTokenMask, p: Any, dt: float) -> Step:
    mask = p("mask")

    def step(x: dict[str, torch.Tensor], t: Any) -> tuple[torch.Tensor, Any]:
        t = 0 if t is None else t
        row = mask[min(t, mask.shape[0] - 1)]
        return row.expand(x["input"].shape[0], -1).clone(), t + 1
    return step


@kernel(n.TokenSelect)
def _token_select(node: n.TokenSelect, p: Any, dt: float) -> Step:
    index = torch.tensor(node.index)
    return lambda x, state: (x["input"].index_select(1, index), None)


@kernel(n.TokenScatter)
def _token_scatter(node: n.TokenScatter, p: Any, dt: float) -> Step:
    index = torch.tensor(node.index)

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        rows = x["input"]
        out = rows.new_zeros((rows.shape[0], node.size) + rows.shape[2:])
        return out.index_copy(1, index.to(rows.device), rows), None
    return step
