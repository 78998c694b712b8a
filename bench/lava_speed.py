"""Sample-steps per second of Lava's CPU run against snncompile's fixed-point simulation, on the same network.

    .venv/bin/python bench/lava_speed.py [--sizes 784,256,10] [--steps 100] [--batch 16] [--rate 0.1]

A fixed-point dense LIF chain (LoihiDense / LoihiLIF, random even 8-bit weights, thresholds set so that every layer
fires) fed binary spikes at ``--rate``. Lava runs it through snncompile_lava.run_lava (Loihi2SimCfg fixed_pt,
samples one after another, process start-up and compilation included, as a user pays them); the simulator runs
the whole batch at once. Both give the same spikes (checked here); printed: each one's wall time, sample-steps per
second (batch x steps / wall time) and the ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from snncompile_lava.run import run_lava

from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n
from snncompile.sim import simulate


def chain(sizes: list[int], rng: np.random.Generator) -> Graph:
    nodes: dict[str, n.Node] = {"in": n.Input(type=TensorType((sizes[0],), "binary"))}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        nodes[f"fc{i}"] = n.LoihiDense(weight=2 * rng.integers(-20, 60, (b, a)))
        nodes[f"lif{i}"] = n.LoihiLIF(du=np.array(4095), dv=np.array(1024), vth=np.array(10 * a),
                                      bias_mant=np.zeros(b), bias_exp=np.array(0))
    nodes["out"] = n.Output()
    names = list(nodes)
    return Graph(nodes, [Edge(a, b) for a, b in zip(names, names[1:], strict=False)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="784,256,10")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    graph = chain(sizes, rng)
    x = (rng.random((args.steps, args.batch, sizes[0])) < args.rate).astype(np.float64)
    layers = [k for k, node in graph.nodes.items() if isinstance(node, n.LoihiLIF)]
    start = time.perf_counter()
    ref = simulate(graph, x, trace=layers)
    sim_s = time.perf_counter() - start
    start = time.perf_counter()
    lava = run_lava(graph, x, progress=False)
    lava_s = time.perf_counter() - start
    for k in layers:
        if not np.array_equal(lava.values[k], ref.traces[k]):
            raise SystemExit(f"{k}: Lava and the simulation differ")
    rates = ", ".join(f"{k} {ref.traces[k].mean():.3f}" for k in layers)
    work = args.batch * args.steps
    print(f"network {'-'.join(map(str, sizes))}, {args.batch} samples x {args.steps} steps, input rate {args.rate}; "
          f"firing rates {rates}; spikes equal in every layer")
    print(f"Lava CPU (fixed_pt): {lava_s:.2f} s, {work / lava_s:,.0f} sample-steps/s "
          f"({lava.lava_steps} Lava steps with the pipeline depth {lava.depth})")
    print(f"snncompile fixed-point simulation: {sim_s:.3f} s, {work / sim_s:,.0f} sample-steps/s")
    print(f"ratio: the simulation is {lava_s / sim_s:,.0f}x faster")


if __name__ == "__main__":
    main()
