"""The Spikformer of ``spikformer_sj12.py`` with SpikingJelly 0.0.0.0.14's multi-step neurons.

Code written for 0.0.0.0.14 is the same as for 0.0.0.0.12 except for how it builds a neuron: the
``activation_based`` API's ``neuron.LIFNode(tau=2.0, detach_reset=True, step_mode='m', backend='cupy')`` instead of
``clock_driven``'s ``MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')``. So this file takes the
architecture (forward code, ``x.flatten(0, 1)``, ``reshape(T, B, ...)``, attention, head on the time mean) from
``spikformer_sj12.py`` and has it build 0.0.0.0.14's neurons. Run it under 0.0.0.0.14 only (its wheel also ships
the old ``clock_driven`` package, which the shared module imports and this file replaces).
"""

import functools
import sys
from pathlib import Path

from spikingjelly.activation_based import neuron

sys.path.insert(0, str(Path(__file__).parent))
import spikformer_sj12 as architecture  # noqa: E402

architecture.MultiStepLIFNode = functools.partial(neuron.LIFNode, step_mode="m")
T, INPUT_SHAPE = architecture.T, architecture.INPUT_SHAPE


def build():
    return architecture.build()
