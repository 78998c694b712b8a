"""What a simulation records: spikes per neuron and input events per synapse set, per time step.

Counts are summed over the batch and kept per element and per step, so that later reports can count exact
synaptic operations (events x the fan-out of each input position, exact at convolution borders), firing rates per
layer and per step, and live tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Activity:
    steps: int
    samples: int
    spikes: dict[str, np.ndarray] = field(default_factory=dict)  # node -> int64 [T, *shape], spikes over the batch
    events: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # node -> port -> [T, *in_shape]
    counts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # node -> counter -> [T, ...] (counters.py)

    def firing_rate(self, node: str) -> float:
        """Mean spikes per neuron per step per sample."""
        counts = self.spikes[node]
        return float(counts.sum()) / (counts[0].size * self.steps * self.samples)

    def firing_rates(self) -> dict[str, float]:
        return {name: self.firing_rate(name) for name in self.spikes}

    def rate_per_step(self, node: str) -> np.ndarray:
        counts = self.spikes[node]
        return counts.reshape(self.steps, -1).sum(1) / (counts[0].size * self.samples)

    def merge(self, other: Activity) -> Activity:
        """Activity of two batches of the same graph and steps, as if simulated together."""
        return Activity(self.steps, self.samples + other.samples,
                        _add(self.spikes, other.spikes),
                        {k: _add(v, other.events[k]) for k, v in self.events.items()},
                        {k: _add(v, other.counts[k]) for k, v in self.counts.items()})


def _add(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: a[k] + b[k] for k in a}
