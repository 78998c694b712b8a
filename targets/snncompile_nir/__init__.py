"""The nir target: a file of NIR 1.0 standard primitives only, which stock ``nir.read`` loads and other NIR tools
(norse, ...) run (docs/nir.md, "Running in norse").

Its pipeline is the cpu one followed by ``tokens-to-vectors``, which folds token-wise linear maps and data movement
into Affine weights when every other node is an NIR primitive. It has no chips: NIR is an interchange format.
"""

from __future__ import annotations

from pathlib import Path

from snncompile_cpu import PIPELINE as CPU_PIPELINE

from snncompile.ir import Graph
from snncompile.ir.nir_io import write_nir
from snncompile.targets.chips import Chip
from snncompile.targets.mapping import Placement
from snncompile.targets.target import Target

ACCEPTS = frozenset({
    "Input", "Output", "Affine", "Linear", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Scale",
    "Threshold", "Delay", "I", "IF", "LI", "LIF", "CubaLI", "CubaLIF",
    "Previous",  # written as the edge that closes a cycle
})
"""NIR 1.0's primitives that snncompile's IR has (the classes with ``primitive = True``), and Previous."""

PRODUCTS = frozenset({"SpikeMatMul", "SpikeMask", "SpikingSelfAttention", "DSSAScore", "DSSAAggregate", "TokenMask"})
"""Ops that multiply two tensors computed by the network (spikes by spikes, or by a computed mask)."""


class NirTarget(Target):
    name = "nir"
    title = "NIR 1.0 standard primitives (a file other NIR tools read)"
    accepts = ACCEPTS
    output = "file"
    refused = "NIR 1.0 standard primitives cannot express"
    hint = "; --target cpu keeps extension nodes"

    def pipeline(self, chip: Chip | None) -> tuple[str, ...]:
        return CPU_PIPELINE + ("tokens-to-vectors",)

    def why(self, op: str) -> tuple[int, str]:
        from snncompile.passes.tokens_to_vectors import FOLDED

        if op in PRODUCTS:
            return 0, "have no NIR equivalent (standard NIR has no product of two spike tensors)"
        if op in {cls.op for cls in FOLDED}:
            return 2, ("are linear or layout nodes, which tokens-to-vectors folds into Affine weights only when "
                       "every other node is an NIR primitive (--explain gives its reason)")
        return 1, "have no NIR equivalent (no NIR 1.0 primitive computes them)"

    def emit(self, graph: Graph, chip: Chip | None, out: Path, placement: Placement | None = None) -> list[Path]:
        write_nir(graph, out)
        return [out]


TARGET = NirTarget()
