"""Make random-weight models spike: batch-norm calibration, and per-neuron-layer firing rates.

A randomly initialised spiking model is mostly silent or saturated, which makes its compiled graph and energy
estimate meaningless. ``calibrate_batchnorm`` gives every batch norm, on the calibration data, the output
distribution ``N(target_mean, target_std^2)`` per channel, so every LIF after a BN sees the same healthy drive.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from snncompile.nn.layers import StepModel
from snncompile.nn.lif import LIF

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


@torch.no_grad()
def recompute_batchnorm_stats(model: StepModel, x_seq: Tensor) -> None:
    """Set, in place, every BN's running statistics from ``x_seq [T, B, ...]``; leaves the model in eval mode.

    Running mean and variance become the average, over the T steps, of the per-step batch statistics of the
    BN's input (one forward pass in train mode with ``momentum=None``, a cumulative average). Affine parameters
    are kept. After training this replaces the exponential average, which over-weights the last steps.
    """
    norms = [m for m in model.modules() if isinstance(m, _BATCH_NORMS)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    model(x_seq)
    model.eval()
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum


@torch.no_grad()
def calibrate_batchnorm(model: StepModel, x_seq: Tensor, target_mean: float = 0.5, target_std: float = 1.0) -> None:
    """Calibrate every batch norm of a random-weight ``model`` in place on ``x_seq [T, B, ...]``.

    Each BN gets ``weight = target_std``, ``bias = target_mean`` and running statistics from
    ``recompute_batchnorm_stats``, so its output on the data is about ``N(target_mean, target_std^2)`` per
    channel. A LIF (tau 2, threshold 1) driven by ``N(0.5, 1)`` fires at roughly 10-25 %. Leaves eval mode.
    """
    for bn in model.modules():
        if isinstance(bn, _BATCH_NORMS):
            bn.weight.fill_(target_std)
            bn.bias.fill_(target_mean)
    recompute_batchnorm_stats(model, x_seq)


@torch.no_grad()
def firing_rates(model: StepModel, x_seq: Tensor) -> dict[str, float]:
    """Mean spike rate of every LIF over all its elements, samples and time steps of one ``model(x_seq)``.

    Keys are the LIFs' qualified module names in ``model.named_modules()`` order. The model's mode is kept.
    """
    names: dict[nn.Module, str] = {module: name for name, module in model.named_modules() if isinstance(module, LIF)}
    spikes = dict.fromkeys(names.values(), 0.0)
    elements = dict.fromkeys(names.values(), 0)

    def count(module: nn.Module, _inputs: tuple[Tensor, ...], out: Tensor) -> None:
        spikes[names[module]] += out.sum().item()
        elements[names[module]] += out.numel()

    hooks = [module.register_forward_hook(count) for module in names]
    try:
        model(x_seq)
    finally:
        for hook in hooks:
            hook.remove()
    return {name: spikes[name] / elements[name] for name in spikes}
