"""Resource reports of zoo models on a Lava chip, as docs/targets.md shows them ("Spikformer on Loihi 2").

    .venv/bin/python examples/loihi_resources.py --config spikformer-4-384 --config spikformer-8-768 --chip loihi2

Each model gets seeded random weights with its batch norms calibrated on a seeded random input (every LIF after a
BN fires; snncompile.nn.calibrate), is traced, lowered by the lava pipeline for the chip (quantize included) and
mapped onto cores (``snncompile.check``): the numbers depend on which weights are non-zero, not on training. Prints
one Markdown table row per model, then each model's layers by what bounds their cores.
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch

import snncompile
from snncompile.frontend import trace
from snncompile.nn.calibrate import calibrate_batchnorm
from snncompile.nn.zoo import CONFIGS
from snncompile.targets.resources import memory_text

HEADER = ("| model | chip | neuron layers | neurons | cores | chips | synapses | synaptic memory | in conv layers |\n"
          "|---|---|---|---|---|---|---|---|---|")


def report(config: str, chip: str, steps: int = 4, batch: int = 2) -> tuple[str, Counter]:
    """(the Markdown row, cores per bound) of one zoo config on ``chip``."""
    torch.manual_seed(0)
    model = CONFIGS[config]()
    calibrate_batchnorm(model, torch.rand(steps, batch, *model.input_shape))
    checked = snncompile.check(trace(model, model.input_shape), "lava", chip)
    placement, graph = checked.placement, checked.lowered.graph
    convs = {name for name, node in graph.nodes.items() if node.op in ("Conv2d", "LoihiConv2d")}
    fed_by_conv = {core.layer for core in placement.cores} & {e.dst for e in graph.edges if e.src in convs}
    conv_share = sum(u.synapses for u in placement.layers if u.name in fed_by_conv) / placement.total("synapses")
    memory = sum(u.memory_bits or 0 for u in placement.layers)
    row = (f"| {config} | {chip} | {len(placement.layers)} | {placement.total('neurons'):,} | {len(placement.cores):,} "
           f"| {placement.chips:,} | {placement.total('synapses'):,} | {memory_text(memory)} | {conv_share:.0%} |")
    bounds = Counter()
    for use in placement.layers:
        bounds[use.bound or "one core"] += use.cores
    return row, bounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS), metavar="NAME",
                        help="a zoo config, repeatable (default: spikformer-4-384 and spikformer-8-768)")
    parser.add_argument("--chip", default="loihi2", help="a chip of the lava target (default: loihi2)")
    args = parser.parse_args()
    rows = [(config, *report(config, args.chip)) for config in args.config or ["spikformer-4-384", "spikformer-8-768"]]
    print(HEADER)
    for _, row, _ in rows:
        print(row)
    for config, _, bounds in rows:
        print(f"\n{config}: cores by the limit that bounds their layer: "
              + ", ".join(f"{key} {n:,}" for key, n in bounds.most_common()))


if __name__ == "__main__":
    main()
