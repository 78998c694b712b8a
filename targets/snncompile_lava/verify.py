"""``verify``: Lava's spikes against snncompile's fixed-point simulation, layer by layer.

Both run the same fixed-point graph on the same inputs: Lava's CPU backend through ``run_lava`` (its values already
shifted back by each layer's latency), the reference simulator (``snncompile.sim.simulate``, which defines the
semantics) directly. Every LIF layer and every Output is compared at every step of every sample; the verdict is
equality, bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from rich.console import Console

from snncompile.ir import Graph
from snncompile.sim import simulate
from snncompile.tables import print_table

from .run import run_lava

HEADER = ("layer", "neurons", "latency", "spikes Lava", "spikes fixed-point sim", "mismatches", "first mismatch")


@dataclasses.dataclass(frozen=True)
class LayerCheck:
    """One layer's comparison; ``first_mismatch`` is (step, sample, flat neuron index) or None."""

    layer: str
    neurons: int
    latency: int
    spikes_lava: int
    spikes_sim: int
    mismatches: int
    first_mismatch: tuple[int, int, int] | None

    def cells(self) -> list[str]:
        first = "-" if self.first_mismatch is None else "t={} sample={} neuron={}".format(*self.first_mismatch)
        return [self.layer, f"{self.neurons:,}", str(self.latency), f"{self.spikes_lava:,}", f"{self.spikes_sim:,}",
                f"{self.mismatches:,}", first]


@dataclasses.dataclass(frozen=True)
class Verification:
    rows: tuple[LayerCheck, ...]
    steps: int
    batch: int
    depth: int
    lava_seconds: float

    @property
    def ok(self) -> bool:
        return all(r.mismatches == 0 for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"equal": self.ok, "steps": self.steps, "batch": self.batch, "pipeline_depth": self.depth,
                "layers": [dataclasses.asdict(r) for r in self.rows]}

    def show(self, console: Console) -> None:
        verdict = "equal, bit for bit" if self.ok else "DIFFERENT"
        print_table(console, f"Lava (CPU, fixed_pt) vs fixed-point simulation: {verdict}", HEADER,
                    [r.cells() for r in self.rows], numeric={1, 2, 3, 4, 5},
                    caption=f"{self.batch} sample(s) x {self.steps} steps; Lava ran {self.steps + self.depth} steps "
                            f"per sample (pipeline depth {self.depth}) in {self.lava_seconds:.1f} s")


def compare(layer: str, latency: int, lava: np.ndarray, sim: np.ndarray) -> LayerCheck:
    """One layer's row: ``lava`` and ``sim`` are ``[T, B, *shape]``."""
    diff = lava != sim
    first = None
    if diff.any():
        t, b, *rest = np.argwhere(diff)[0]
        first = (int(t), int(b), int(np.ravel_multi_index(rest, lava.shape[2:])) if rest else 0)
    return LayerCheck(layer, int(np.prod(lava.shape[2:])), latency, int(lava.sum()), int(sim.sum()),
                      int(diff.sum()), first)


def verify(graph: Graph, inputs: np.ndarray | Mapping[str, np.ndarray], steps: int | None = None, *,
           progress: bool = True) -> Verification:
    """Run ``graph`` on Lava and in the simulator on ``inputs`` (``[T, B, *shape]`` per Input) for ``steps``
    steps (default: all) and compare every LIF layer and Output."""
    lava = run_lava(graph, inputs, steps, progress=progress)
    steps, batch = next(iter(lava.values.values())).shape[:2]
    xs = inputs if isinstance(inputs, Mapping) else {graph.inputs[0]: inputs}
    ref = simulate(graph, {k: np.asarray(x)[:steps] for k, x in xs.items()}, trace=list(lava.values))
    rows = tuple(compare(name, lava.latency[name], values, np.rint(ref.traces[name]).astype(np.int64))
                 for name, values in lava.values.items())
    return Verification(rows, steps, batch, lava.depth, lava.seconds)
