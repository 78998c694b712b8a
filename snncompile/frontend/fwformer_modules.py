"""FWformer's leaf modules -> IR nodes: each fixed-basis transform becomes one FourierMixer or WaveletMixer node
holding the module's basis matrices and weights as they are (in the module's dtype, widened to float64)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np
import torch
from torch import nn

from snncompile.ir.node import Node
from snncompile.ir.nodes.mixers import FourierMixer, WaveletMixer
from snncompile.nn import mixers

Shape = tuple[int, ...]
# Any: each converter takes an instance of the module type it is registered under, which a dict cannot express.
Converter = Callable[[Any, Shape, Shape, str], Node]


@overload
def _np(t: torch.Tensor) -> np.ndarray: ...
@overload
def _np(t: torch.Tensor | None) -> np.ndarray | None: ...
def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().to(torch.float64).cpu().numpy()


def _mixer(node_cls: type[FourierMixer] | type[WaveletMixer]) -> Converter:
    def convert(m: mixers.BasisMixer, inp: Shape, out: Shape, path: str) -> Node:
        return node_cls(token_basis=_np(m.token_basis), channel_basis=_np(m.channel_basis), weights=_np(m.weights))
    return convert


FAMILY_MODULES: dict[type[nn.Module], Converter] = {
    mixers.FourierMixer: _mixer(FourierMixer),
    mixers.WaveletMixer: _mixer(WaveletMixer),
}
