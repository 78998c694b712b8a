"""token-masks on the trained AT-SNN digits model: for p in {50, 80, 95} %, tokens removed (masked at every step,
their rows shrunk away), (step, token) slots masked, neurons and synapses removed (node_stats before/after),
synapse-steps skippable at masked steps, test accuracy before/after (the shrunk graph must equal the masked one).
The table in docs/passes.md:

    python examples/token_masks_report.py [--checkpoint examples/atsnn_digits.pt] [--samples 256]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snncompile.frontend import trace
from snncompile.frontend.checkpoint import load_model
from snncompile.ir import Graph
from snncompile.ir import nodes as n
from snncompile.ir.stats import node_stats
from snncompile.nn.data import load_digits_split
from snncompile.passes.token_masks import TokenMasks, prune
from snncompile.passes.token_shrink import shrink
from snncompile.sim.evaluate import evaluate

CHECKPOINT = Path(__file__).with_name("atsnn_digits.pt")
PERCENTS = (50.0, 80.0, 95.0)


def _size(graph: Graph) -> tuple[int, int]:
    rows = node_stats(graph)
    return sum(r.neurons for r in rows), sum(r.synapses for r in rows)


def report(path: Path = CHECKPOINT, samples: int = 256) -> dict[str, Any]:
    """``{"before": {...}, "rows": [{"p", "tokens", "slots", "neurons", "synapses", "skippable", "accuracy",
    "masked_accuracy"}]}``; neurons and synapses are those removed from the graph."""
    model, meta = load_model(path)
    graph = trace(model, model.input_shape)
    _, _, x_test, y_test = load_digits_split()
    x, y, steps = x_test.numpy().astype(np.float64), y_test.numpy(), int(meta["T"])
    size = _size(graph)
    result: dict[str, Any] = {"before": {"accuracy": evaluate(graph, x, y, steps).accuracy, "size": size}, "rows": []}
    for p in PERCENTS:
        masked = TokenMasks(p=p, samples=samples, steps=steps, shrink=False).run(graph).graph
        masks = [node.mask for node in masked.nodes.values() if isinstance(node, n.StaticTokenMask)]
        shrunk = shrink(masked)
        after = _size(prune(shrunk.graph))
        result["rows"].append({"p": p, "tokens": shrunk.tokens, "slots": int(sum((m == 0).sum() for m in masks)),
                               "neurons": size[0] - after[0], "synapses": size[1] - after[1],
                               "skippable": shrunk.skippable,
                               "masked_accuracy": evaluate(masked, x, y, steps).accuracy,
                               "accuracy": evaluate(prune(shrunk.graph), x, y, steps).accuracy})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = report(args.checkpoint, args.samples)
    before = result["before"]
    print(f"before: accuracy {before['accuracy']:.4f}, {before['size'][0]} neurons, {before['size'][1]} synapses")
    print("| p (%) | tokens removed | (step, token) slots masked | neurons removed | synapses removed "
          "| synapse-steps skippable per sample | accuracy before | accuracy after (masked = shrunk) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        print(f"| {r['p']:g} | {r['tokens']} | {r['slots']} | {r['neurons']} | {r['synapses']} | {r['skippable']} "
              f"| {before['accuracy']:.4f} | {r['accuracy']:.4f} ({r['masked_accuracy']:.4f}) |")


if __name__ == "__main__":
    main()
