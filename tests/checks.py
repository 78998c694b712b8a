"""Assertions shared by the equivalence tests: the same spikes, and spiking layers that really fire."""

from __future__ import annotations

import numpy as np

from snncompile.frontend.equivalence import compare
from snncompile.ir import Graph, Kind
from snncompile.nn.lif import LIF
from snncompile.sim import simulate


def assert_exact_and_firing(model, graph, x_seq, min_rate=0.01):
    """torch model vs traced graph: every LIF compared, each fires above ``min_rate``, no spike differs."""
    eq = compare(model, graph, x_seq)
    lifs = [name for name, m in model.named_modules() if isinstance(m, LIF)]
    assert set(lifs) <= {layer.name for layer in eq.layers} and lifs
    for layer in eq.layers:
        assert layer.torch_rate > min_rate, f"{layer.name} fires at {layer.torch_rate:.4f}: test would be vacuous"
        assert layer.mismatches == 0, f"{layer.name}: {layer.mismatches}/{layer.total} spikes differ"
    assert eq.max_output_diff < 1e-9
    return eq


def assert_same_spikes(graph: Graph, lowered: Graph, x: np.ndarray, min_rate: float = 0.01) -> None:
    """A graph vs its rewrite: every spiking node of ``graph`` still in ``lowered`` fires above ``min_rate`` and
    has identical spikes at every step; the outputs are identical."""
    layers = [k for k in graph.order
              if graph.types[k].kind == Kind.BINARY and k in lowered.nodes and lowered.types[k].kind == Kind.BINARY
              and graph.nodes[k].op != "Input"]
    assert layers
    before, after = simulate(graph, x, trace=layers), simulate(lowered, x, trace=layers)
    for layer in layers:
        assert before.traces[layer].mean() > min_rate, f"{layer} is silent: the test would be vacuous"
        mismatches = int((before.traces[layer] != after.traces[layer]).sum())
        assert mismatches == 0, f"{layer}: {mismatches} spikes differ"
    assert np.array_equal(before.output, after.output)


def calibrated_spikingjelly(model, shape: tuple[int, ...], batch: int, seed: int = 0, steps: int = 4):
    """A random-weight SpikingJelly ``model`` with batch norms calibrated on a seeded ``[steps, batch, *shape]``
    input (every LIF after a BN fires), neurons reset; returns the model and that input."""
    import torch
    from spikingjelly.activation_based import functional

    from snncompile.nn.calibrate import calibrate_batchnorm

    torch.manual_seed(seed)
    x_seq = torch.rand(steps, batch, *shape)
    calibrate_batchnorm(model, x_seq)
    functional.reset_net(model)
    return model, x_seq
