"""snncompile.ir.timestep: which neurons have a time constant below dt (forward Euler's decay factor negative)."""

import warnings

import numpy as np
import pytest

from snncompile.ir import TensorType
from snncompile.ir import nodes as n
from snncompile.ir.timestep import CoarseStep, coarse_steps, warn_coarse_step
from tests.graphs import chain, lif


def _cuba(tau_syn, tau_mem, spiking: bool) -> n.Node:
    common = {"tau_syn": np.asarray(tau_syn, float), "tau_mem": np.asarray(tau_mem, float), "r": 1.0, "v_leak": 0.0,
              "w_in": 1.0}
    return n.CubaLIF(**common, v_threshold=1.0, v_reset=0.0) if spiking else n.CubaLI(**common)


def _graph(dt: float, *named):
    return chain(*named, input_type=TensorType((3,)), dt=dt)


def test_every_leaky_neuron_kind():
    graph = _graph(1.0, ("a", lif(tau=2.0)), ("b", lif(tau=0.5)), ("c", n.LI(tau=0.25, r=1.0, v_leak=0.0)),
                   ("d", _cuba([2.0, 0.1, 3.0], 5.0, True)), ("e", _cuba(5.0, 0.75, False)),
                   ("f", n.IF(r=1.0, v_threshold=1.0, v_reset=0.0)))
    assert coarse_steps(graph) == [CoarseStep("b", "LIF", "tau", 0.5), CoarseStep("c", "LI", "tau", 0.25),
                                   CoarseStep("d", "CubaLIF", "tau_syn", pytest.approx(0.1)),
                                   CoarseStep("e", "CubaLI", "tau_mem", 0.75)]


def test_dt_up_to_tau_is_intended():
    assert coarse_steps(_graph(1.0, ("lif", lif(tau=2.0)))) == []  # dt/tau = 0.5: SpikingJelly's LIF
    assert coarse_steps(_graph(1.0, ("lif", lif(tau=1.0)))) == []  # decay factor 0: memoryless
    assert coarse_steps(_graph(1e-4, ("lif", lif(tau=2.5e-3)))) == []


def test_one_warning_names_the_first_node_and_counts_the_rest():
    graph = _graph(1e-3, ("x", lif(tau=1e-2)), ("y", lif(tau=2.5e-4)), ("z", n.LI(tau=5e-4, r=1.0, v_leak=0.0)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_coarse_step(graph, "m.nir")
    assert [str(w.message) for w in caught] == [
        "m.nir: dt = 0.001 is larger than tau = 0.00025 of node 'y' (LIF) (and 1 more neuron nodes), so forward "
        "Euler's decay factor 1 - dt/tau is negative and the state oscillates; pass a --dt smaller than the time "
        "constants (same unit)"]
