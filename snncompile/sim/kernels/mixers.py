"""Kernels of FWformer's fixed-basis token mixers (see snncompile.ir.nodes.mixers).

The float operations are those of ``snncompile.nn.mixers.BasisMixer.forward`` in the same order, so a model in
float64 and its graph give bit-identical outputs.
"""

from __future__ import annotations

from typing import Any

import torch

from snncompile.ir.nodes.mixers import FourierMixer, WaveletMixer
from snncompile.sim.kernels.registry import Step, kernel


@kernel(FourierMixer)
@kernel(WaveletMixer)
def _basis_mixer(node: FourierMixer | WaveletMixer, p: Any, dt: float) -> Step:
    token_basis, weights = p("token_basis"), p("weights")
    channel_basis = None if node.channel_basis is None else p("channel_basis")

    def step(x: dict[str, torch.Tensor], state: Any) -> tuple[torch.Tensor, Any]:
        xin = x["input"].contiguous()
        y: torch.Tensor | None = None
        for k in range(token_basis.shape[0]):
            t = token_basis[k] @ xin
            if channel_basis is not None:
                t = t @ channel_basis[k].mT
            t = weights[k] * t
            y = t if y is None else y + t
        assert y is not None  # K >= 1: the node's output_type checks it
        return y, None
    return step
