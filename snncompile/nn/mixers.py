"""FWformer's token mixers: fixed basis matrices (real and imaginary parts of the DFT, Haar wavelets) and the leaf
modules that apply them along the token and channel axes of a token tensor ``[B, N, D]``.

Every transform is a real matrix ``B [L, L]`` applied along one axis (``y = B @ x`` along tokens, ``y = x @ B^T``
along channels). Matrices are computed in float64 with exact argument reduction; the modules store them in the
default dtype (what the model is built in) as non-trainable buffers.

* DFT (numpy's sign convention, unnormalised, ``np.fft.fft``): ``F[k, n] = exp(-2 pi i k n / L) = C - i S`` with
  ``C[k, n] = cos(2 pi k n / L)`` and ``S[k, n] = sin(2 pi k n / L)``. For a real ``x``: ``Re(F x) = C x`` and
  ``Im(F x) = -S x``.
* Haar, one level, orthonormal (the layout of a one-level DWT written back into the same array)::

      row i        (i < L/2):  (x[2i] + x[2i+1]) / sqrt(2)     approximation
      row L/2 + i:             (x[2i] - x[2i+1]) / sqrt(2)     detail

  Level l applies level 1 again to the first ``L / 2^(l-1)`` rows (the approximation), so L must divide by 2^l.
  The 2-D Haar of a row-major ``h x w`` grid flattened to ``h*w`` tokens is ``kron(H_h, H_w)``: subbands come out
  as the quadrants ``[[LL, LH], [HL, HH]]`` of the grid.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor, nn

PARTS = ("real", "imag")
WAVELET_AXES = ("tokens-channels", "token-grid")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@functools.cache
def dft_cos_sin(length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(C, S)``, both ``[length, length]`` float64 (read-only): ``cos`` and ``sin`` of ``2 pi k n / length``."""
    if length < 1:
        raise ValueError(f"DFT length must be >= 1, got {length}")
    k = np.arange(length)
    angle = 2 * np.pi * (np.outer(k, k) % length) / length
    return _frozen(np.cos(angle)), _frozen(np.sin(angle))


@functools.cache
def haar(length: int, levels: int = 1) -> np.ndarray:
    """The orthonormal ``levels``-level Haar analysis matrix ``[length, length]``, read-only (module docstring)."""
    if levels < 1:
        raise ValueError(f"Haar levels must be >= 1, got {levels}")
    if length % (2 ** levels):
        raise ValueError(f"a {levels}-level Haar transform needs a length divisible by {2 ** levels}, got {length}")
    half = length // 2
    step = np.zeros((length, length))
    rows = np.arange(half)
    step[rows, 2 * rows] = step[rows, 2 * rows + 1] = step[half + rows, 2 * rows] = np.sqrt(0.5)
    step[half + rows, 2 * rows + 1] = -np.sqrt(0.5)
    if levels > 1:
        step[:half] = haar(half, levels - 1) @ step[:half]
    return _frozen(step)


def haar_grid(height: int, width: int, levels: int = 1) -> np.ndarray:
    """2-D Haar of a row-major ``height x width`` token grid as one ``[h*w, h*w]`` matrix: ``kron(H_h, H_w)``."""
    return _frozen(np.kron(haar(height, levels), haar(width, levels)))


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


class BasisMixer(nn.Module):
    """Fixed-basis token mixing of ``x [B, N, D]``, in exactly this float order::

        y = w_0 * ((T_0 @ x) @ C_0^T);  y = y + w_k * ((T_k @ x) @ C_k^T)  for k = 1 .. K-1

    ``token_basis`` ``T [K, N, N]`` and ``channel_basis`` ``C [K, D, D]`` (None: no channel transform, ``C_k = I``)
    are non-trainable buffers, rebuilt from the options rather than saved in checkpoints; ``weights`` ``w [K]`` is a
    buffer, or a parameter when ``learnable``.
    """

    token_basis: Tensor
    channel_basis: Tensor | None
    weights: Tensor

    def __init__(self, token_basis: Tensor, channel_basis: Tensor | None, weights: Tensor, learnable: bool = False):
        super().__init__()
        self.register_buffer("token_basis", token_basis, persistent=False)
        self.register_buffer("channel_basis", channel_basis, persistent=False)
        if learnable:
            self.weights = nn.Parameter(weights.clone())
        else:
            self.register_buffer("weights", weights, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = x.contiguous()
        y = None
        for k in range(self.token_basis.shape[0]):
            t = self.token_basis[k] @ x
            if self.channel_basis is not None:
                t = t @ self.channel_basis[k].mT
            t = self.weights[k] * t
            y = t if y is None else y + t
        assert y is not None  # K >= 1: both subclasses build at least one basis
        return y


def _tensor(a: np.ndarray) -> Tensor:
    return torch.tensor(a, dtype=torch.get_default_dtype())


class FourierMixer(BasisMixer):
    """``part`` (real or imaginary) of the unnormalised DFT of ``x [B, N, D]`` along tokens (``two_d=False``) or
    along tokens and channels (``two_d=True``, FNet). With ``F = C - iS`` (module docstring)::

        1-D: Re = C_N x                      Im = -S_N x
        2-D: Re = C_N x C_D^T - S_N x S_D^T   Im = -(S_N x C_D^T + C_N x S_D^T)
    """

    def __init__(self, tokens: int, dim: int, two_d: bool = False, part: str = "real"):
        check_choice("part", part, PARTS)
        cn, sn = dft_cos_sin(tokens)
        real = part == "real"
        if two_d:
            token_basis, channel_basis = np.stack([cn, sn] if real else [sn, cn]), _tensor(np.stack(dft_cos_sin(dim)))
            weights = [1.0, -1.0] if real else [-1.0, -1.0]
        else:
            token_basis, channel_basis = (cn if real else sn)[None], None
            weights = [1.0 if real else -1.0]
        super().__init__(_tensor(token_basis), channel_basis, _tensor(np.array(weights)))
        self.two_d, self.part = two_d, part

    def extra_repr(self) -> str:
        return f"two_d={self.two_d}, part={self.part}"


class WaveletMixer(BasisMixer):
    """Haar wavelets of ``x [B, N, D]`` from a ``grid = (h, w)`` patch grid (``N = h*w``), summed over ``levels``:
    ``y = sum_l w_l * Haar_l(x)``. For ``axes="tokens-channels"`` ``Haar_l(x) = H_l(N) x H_l(D)^T``
    (the 2-D Haar of the token x channel matrix), for ``axes="token-grid"`` the 2-D Haar of every channel over the
    patch grid, ``kron(H_l(h), H_l(w)) x``. One level with a fixed weight 1 is 2D-WT; several
    levels with learnable weights (initially ``1 / len(levels)``) is DWT-C.
    """

    def __init__(self, grid: tuple[int, int], dim: int, axes: str = "tokens-channels", levels: tuple[int, ...] = (1,),
                 learnable: bool = False):
        check_choice("axes", axes, WAVELET_AXES)
        tokens = grid[0] * grid[1]
        if axes == "token-grid":
            token_basis, channel_basis = np.stack([haar_grid(*grid, lv) for lv in levels]), None
        else:
            token_basis = np.stack([haar(tokens, lv) for lv in levels])
            channel_basis = _tensor(np.stack([haar(dim, lv) for lv in levels]))
        weights = np.full(len(levels), 1.0 / len(levels))
        super().__init__(_tensor(token_basis), channel_basis, _tensor(weights), learnable)
        self.axes, self.levels = axes, tuple(levels)

    def extra_repr(self) -> str:
        return f"axes={self.axes}, levels={self.levels}"
