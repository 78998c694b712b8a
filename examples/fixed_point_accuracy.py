"""Float vs fixed-point accuracy of the trained digits models (examples/*_digits.pt), Loihi 1 and Loihi 2.

Each checkpoint is traced, lowered by the cpu pipeline (the float reference) and by the lava target's pipeline for
each chip (graded-to-binary on Loihi 1, then the quantize pass), and simulated on the 450 digits test images with
T = 4 (the fixed-point graphs in snncompile's exact integer simulation of Lava's bit-accurate models). Prints the
Markdown table of docs/fixed-point.md, then every layer the quantize pass left in float and why:

    python examples/fixed_point_accuracy.py [FAMILY ...]     # default: every examples/*_digits.pt; ~8 min on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.nn.data import load_digits_split
from snncompile.passes.registry import parse_passes, run_pipeline
from snncompile.sim import fixed_point
from snncompile.sim.evaluate import evaluate
from snncompile.targets.plugins import load_target

EXAMPLES = Path(__file__).resolve().parent
STEPS = 4
CHIPS = ("loihi1", "loihi2")


def families() -> list[str]:
    return sorted(p.name.removesuffix("_digits.pt") for p in EXAMPLES.glob("*_digits.pt"))


def measure(family: str, x, y) -> tuple[list[str], list[str]]:
    """The table row of ``family`` and the lines naming what each chip's graph keeps in float."""
    model = load_model(EXAMPLES / f"{family}_digits.pt")[0]
    graph = trace(model, model.input_shape)
    reference, _ = run_pipeline(graph, parse_passes(",".join(load_target("cpu").pipeline(None))))
    spiking = sum(1 for k in reference.order if reference.types[k].kind == "binary"
                  and reference.nodes[k].op in ("LIF", "CubaLIF", "IF"))
    cells = [family, f"{evaluate(reference, x, y, STEPS).accuracy:.2%}"]
    lowered, left = [], []
    for chip in CHIPS:
        fixed, steps = fixed_point.lower(graph, chip)
        cells.append(f"{evaluate(fixed, x, y, STEPS).accuracy:.2%}")
        lowered.append(f"{len(fixed.metadata.get('quantize', {}))}/{spiking}")
        left += [f"{family}, {chip}: {r.node}: {r.reason}" for s in steps for r in s.refusals
                 if r.pass_name == "quantize"]
    return cells + lowered, left


def main(names: list[str]) -> None:
    _, _, x, y = load_digits_split()
    x, y = x.numpy(), y.numpy()
    print("| model | float | Loihi 1 | Loihi 2 | LIF layers lowered, Loihi 1 | Loihi 2 |")
    print("|---|---|---|---|---|---|")
    notes = []
    for family in names or families():
        row, left = measure(family, x, y)
        print("| " + " | ".join(row) + " |", flush=True)
        notes += left
    print("\nleft in float:")
    print("\n".join(f"* {line}" for line in notes) or "* nothing")


if __name__ == "__main__":
    main(sys.argv[1:])
