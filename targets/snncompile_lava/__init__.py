"""The lava target: Intel Loihi 1 and Loihi 2 (chips/loihi1.toml, chips/loihi2.toml) through Lava (lava-nc, lava-dl).

This module is the plugin's whole interface to the core (``snncompile.targets.target.Target``); the other modules
of the package do the work and are imported only inside the methods that use them, and Lava itself only inside
the functions that build or run Lava processes, so that listing or checking targets never imports Lava.

* ``pipeline(chip)``: the cpu pipeline, then ``graded-to-binary`` on a chip without graded spikes (Loihi 1), then
  ``quantize`` with the chip's weight bits and whether it takes graded spikes (its ``precision`` tables).
* ``check`` / ``map``: ``ACCEPTS`` and the core mapper (``snncompile.targets.mapping``) against the chip's limits.
* ``emit(graph, chip, out)``: the folder ``out`` with ``network.h5`` (netx HDF5 that lava-dl's ``netx.hdf5.Network``
  loads, with snncompile's extension holding what netx cannot: ``netx_write``) and ``resources.json`` (the
  placement, ``snncompile.targets.resources``).
* ``run(graph, inputs, steps)``: Lava's CPU backend runs the process network built from the graph (``run.run_lava``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from snncompile_cpu import PIPELINE as CPU_PIPELINE

from snncompile.errors import OutputFileError, SnnError
from snncompile.files import write_text
from snncompile.ir import Graph
from snncompile.targets.chips import Chip
from snncompile.targets.mapping import Placement, place
from snncompile.targets.resources import placement_json
from snncompile.targets.target import Target

ACCEPTS = frozenset({
    "Input", "Output", "Previous", "LoihiEncode",  # LoihiEncode: real input as payloads, on the host
    "LoihiDense", "LoihiConv2d", "LoihiLIF",  # Lava's Dense / Conv / LIF processes, bit-accurate models
    "Flatten", "Reshape",  # Lava virtual ports
})
"""What the lava pipeline's output may hold: the node kinds the Lava process network is built from
(``network.TAKES``, which imports Lava and so is not imported here; tests/test_targets.py keeps the two equal)."""
NETWORK, RESOURCES = "network.h5", "resources.json"

FLOAT = frozenset({"Affine", "Linear", "Conv2d", "LIF", "CubaLIF", "IF"})
"""Float synapses and neurons: the quantize pass lowers those it can to Loihi fixed-point nodes."""


class LavaTarget(Target):
    name = "lava"
    title = "Intel Loihi 1 / Loihi 2 through Lava (netx HDF5 + a Lava process network; Lava's CPU backend runs it)"
    accepts = ACCEPTS
    output = "folder"
    default_chip = "loihi2"
    runtime = "lava"

    def pipeline(self, chip: Chip | None) -> tuple[str, ...]:
        """A chip that does not say it takes graded spikes is taken to send binary ones; one that gives no weight
        bits gets the quantize pass's default."""
        precision = {} if chip is None else chip.precision
        graded = "graded_spikes" in precision and bool(precision["graded_spikes"].value)
        options = [f"graded={str(graded).lower()}"]
        if "weight_bits" in precision:
            options.insert(0, f"weight_bits={precision['weight_bits'].value}")
        return CPU_PIPELINE + (() if graded else ("graded-to-binary",)) + (f"quantize{{{','.join(options)}}}",)

    def why(self, op: str) -> tuple[int, str]:
        if op in FLOAT:
            return 1, "are float synapses and neurons that the quantize pass left (--explain gives its reason)"
        return 0, "have no Lava process in this target (no fixed-point Loihi model for them yet)"

    def map(self, graph: Graph, chip: Chip | None) -> Placement | None:
        return None if chip is None else place(graph, chip)

    def emit(self, graph: Graph, chip: Chip | None, out: Path, placement: Placement | None = None) -> list[Path]:
        from snncompile_lava.netx_write import write_netx

        placement = placement if placement is not None else self.map(graph, chip)
        report = json.dumps(placement_json(placement) if placement else None, indent=1) + "\n"
        created = not out.exists()
        try:
            out.mkdir(exist_ok=True)
        except OSError as err:
            raise OutputFileError(f"{out}: cannot create the folder ({err.strerror})") from None
        written: list[Path] = []
        try:
            write_netx(graph, out / NETWORK)
            written.append(out / NETWORK)
            write_text(out / RESOURCES, report)
            written.append(out / RESOURCES)
        except SnnError:  # both files or neither, and no folder left that this call made
            for path in written:
                path.unlink()
            if created:
                out.rmdir()
            raise
        return written

    def run(self, graph: Graph, inputs: Any, steps: int | None = None, *, progress: bool = True) -> Any:
        """``run.run_lava``: the values of every LIF layer and Output, aligned with the reference simulator."""
        from snncompile_lava.run import run_lava

        return run_lava(graph, inputs, steps, progress=progress)


TARGET = LavaTarget()
