"""Leaky integrate-and-fire neuron, one time step per call (SpikingJelly ``LIFNode``, ``decay_input=True``,
hard reset, ``detach_reset=True``).

Per sample and element, with ``V`` the membrane kept between calls, these float operations in this order
(the simulator reproduces them bit for bit)::

    V    = v_reset                              # before the first step, and after reset()
    H[t] = V[t-1] + (X[t] - V[t-1]) / tau
    S[t] = 1.0 if H[t] >= v_threshold else 0.0
    V[t] = v_reset if S[t] > 0 else H[t]        # torch.where(S > 0, v_reset, H)

The initial membrane is ``v_reset`` (0.0 by default, which is the ``V[-1] = 0`` of the papers). Spikes have the
input's dtype. Training uses a sigmoid surrogate for dS/dH; the reset is detached (no gradient flows through S
into V), so dV/dH = 1 - S.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class SigmoidSpike(torch.autograd.Function):
    """Heaviside step forward, sigmoid surrogate backward.

    Forward: ``S = (H >= v_threshold)`` as H's dtype.
    Backward: ``dS/dH = alpha * sigmoid(alpha * (H - v_threshold)) * (1 - sigmoid(alpha * (H - v_threshold)))``.
    """

    @staticmethod
    def forward(ctx: Any, h: Tensor, v_threshold: float, alpha: float) -> Tensor:
        ctx.save_for_backward(h)
        ctx.v_threshold = v_threshold
        ctx.alpha = alpha
        return (h >= v_threshold).to(h.dtype)

    @staticmethod
    def backward(ctx: Any, grad_spike: Tensor) -> tuple[Tensor, None, None]:
        (h,) = ctx.saved_tensors
        sig = torch.sigmoid(ctx.alpha * (h - ctx.v_threshold))
        return grad_spike * ctx.alpha * sig * (1 - sig), None, None


class LIF(nn.Module):
    """Stateful LIF neuron: ``forward(x)`` advances one time step; see the module docstring for the equations.

    Attributes ``tau``, ``v_threshold``, ``v_reset`` (python floats) and ``v`` (the membrane tensor, or None
    before the first step) are read by the compiler's tracer.
    """

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0, v_reset: float = 0.0, surrogate_alpha: float = 4.0):
        super().__init__()
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.v_reset = float(v_reset)
        self.surrogate_alpha = float(surrogate_alpha)
        self.v: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        v = torch.full_like(x, self.v_reset) if self.v is None else self.v
        h = v + (x - v) / self.tau
        spike = SigmoidSpike.apply(h, self.v_threshold, self.surrogate_alpha)
        self.v = torch.where(spike.detach() > 0, self.v_reset, h)
        return spike

    def reset(self) -> None:
        """Forget the membrane; the next step starts from ``v_reset``."""
        self.v = None

    def extra_repr(self) -> str:
        return f"tau={self.tau}, v_threshold={self.v_threshold}, v_reset={self.v_reset}"
