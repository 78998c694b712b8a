"""The cpu target: snncompile's reference simulator runs the lowered graph (``snncompile simulate``).

``compile --target cpu -o OUT.nir`` writes the graph after the cpu pipeline: attention and mixer nodes lowered to
synapses, neurons, ``SpikeMatMul``, masks and data movement, which the simulator runs directly. Its one chip,
``generic-45nm``, is the papers' energy convention for conventional digital hardware (E_AC / E_MAC of 45 nm CMOS).
"""

from __future__ import annotations

from pathlib import Path

from snncompile.ir import Graph
from snncompile.ir.nir_io import write_nir
from snncompile.targets.chips import Chip
from snncompile.targets.mapping import Placement
from snncompile.targets.target import Target

PIPELINE = ("fold-batchnorm", "maxpool-spikes", "ssa-to-binary-matmul", "qk-attention-to-masks",
            "dssa-to-binary-matmul", "mixer-to-fixed-synapses")
"""What lowers a traced graph for the simulator: every high-level attention and mixer node is rewritten."""

ACCEPTS = frozenset({
    "Input", "Output", "Previous", "Delay",
    "Affine", "Linear", "Conv1d", "Conv2d", "Scale", "BatchNorm", "SumPool2d", "AvgPool2d", "MaxPool2d",
    "I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "Threshold",
    "Flatten", "Reshape", "Transpose", "Slice", "Concat", "Add", "Mean", "Sum",
    "SpikeMatMul", "SpikeMask",
    "TokenHaltingScore", "TokenHalting", "TokenMask", "TokenMerge", "StaticTokenMask", "TokenSelect", "TokenScatter",
})
"""Every op the simulator runs that the pipeline may leave (not the high-level attention and mixer nodes it
lowers). An op is added here when it is added to the simulator and tested through ``compile --target cpu``."""


class CpuTarget(Target):
    name = "cpu"
    title = "snncompile's reference simulator (float64 / float32 on the CPU)"
    accepts = ACCEPTS
    output = "file"
    default_chip = "generic-45nm"

    def pipeline(self, chip: Chip | None) -> tuple[str, ...]:
        return PIPELINE

    def emit(self, graph: Graph, chip: Chip | None, out: Path, placement: Placement | None = None) -> list[Path]:
        write_nir(graph, out)
        return [out]


TARGET = CpuTarget()
