"""Small fixed-point graphs (LoihiDense / LoihiConv2d / LoihiLIF, built by hand with integer parameters) that the
Lava tests run, each with data under which every LIF layer fires."""

from __future__ import annotations

import numpy as np

from snncompile.ir import Edge, Graph, TensorType
from snncompile.ir import nodes as n


def weights(rng: np.random.Generator, shape: tuple[int, ...], low: int, high: int) -> np.ndarray:
    """Even integers in [low, high] (what Lava's Dense keeps unchanged)."""
    return 2 * rng.integers(low // 2, high // 2 + 1, shape)


def lif(shape: tuple[int, ...], vth: int, du: int = 4095, dv: int = 2048, bias: int = 0, bias_exp: int = 0,
        rng: np.random.Generator | None = None) -> n.LoihiLIF:
    """A LoihiLIF; with ``rng`` the bias is per neuron in [0, bias]."""
    mant = np.full(shape, bias) if rng is None else rng.integers(0, bias + 1, shape)
    return n.LoihiLIF(du=np.array(du), dv=np.array(dv), vth=np.array(vth), bias_mant=mant,
                      bias_exp=np.array(bias_exp))


def graph(nodes: dict, edges: list[tuple[str, str]]) -> Graph:
    return Graph(nodes, [Edge(a, b) for a, b in edges])


def chain(names: list[str]) -> list[tuple[str, str]]:
    return list(zip(names, names[1:], strict=False))


def dense_chain(rng: np.random.Generator) -> Graph:
    """real input -> LoihiEncode -> graded LoihiDense -> LIF (current decay, bias) -> LoihiDense (weight_exp 1) ->
    LIF -> output."""
    nodes = {"in": n.Input(type=TensorType((10,))), "enc": n.LoihiEncode(scale=20.0, limit=127),
             "fc1": n.LoihiDense(weight=weights(rng, (12, 10), -40, 90), weight_exp=-2, message_bits=8),
             "lif1": lif((12,), vth=6000, du=1024, dv=512, bias=40, bias_exp=3, rng=rng),
             "fc2": n.LoihiDense(weight=weights(rng, (6, 12), -60, 120), weight_exp=1),
             "lif2": lif((6,), vth=900, dv=1024), "out": n.Output()}
    return graph(nodes, chain(list(nodes)))


def conv_net(rng: np.random.Generator) -> Graph:
    """binary [2, 7, 6] -> LoihiConv2d (kernel 3x2, stride (1, 2), padding (1, 0)) -> LIF -> Flatten -> LoihiDense ->
    LIF -> output: H != W and every pair unequal, so a swapped axis shows."""
    conv = n.LoihiConv2d(weight=weights(rng, (4, 2, 3, 2), -30, 80), stride=(1, 2), padding=(1, 0))
    nodes = {"in": n.Input(type=TensorType((2, 7, 6), "binary")), "conv": conv,
             "lif1": lif((4, 7, 3), vth=90, bias=8, rng=rng), "flat": n.Flatten(),
             "fc": n.LoihiDense(weight=weights(rng, (5, 84), -30, 30)), "lif2": lif((5,), vth=100, dv=1024),
             "out": n.Output()}
    return graph(nodes, chain(list(nodes)))


def recurrent(rng: np.random.Generator) -> Graph:
    """binary input -> fc -> LIF a, a -> rec (inhibitory-leaning) -> Previous -> a (Lava recurrence), a -> fc2 ->
    LIF b -> output; a has a bias, so its pipeline fill must be reset."""
    nodes = {"in": n.Input(type=TensorType((8,), "binary")), "fc": n.LoihiDense(weight=weights(rng, (10, 8), -20, 90)),
             "a": lif((10,), vth=120, du=2048, bias=10, bias_exp=2, rng=rng),
             "rec": n.LoihiDense(weight=weights(rng, (10, 10), -100, 40)),
             "a.prev": n.Previous(type=TensorType((10,))),
             "fc2": n.LoihiDense(weight=weights(rng, (4, 10), -20, 80)), "b": lif((4,), vth=100), "out": n.Output()}
    return graph(nodes, [("in", "fc"), ("fc", "a"), ("a", "rec"), ("rec", "a.prev"), ("a.prev", "a"),
                         ("a", "fc2"), ("fc2", "b"), ("b", "out")])


def residual(rng: np.random.Generator) -> Graph:
    """in -> fc1 -> l1 -> fc2 -> l2 -> fc3 -> l3 -> output and l1 -> skip -> l3: the skip path is one synapse
    shorter, so it needs a one-step delay to meet fc3 in l3."""
    nodes = {"in": n.Input(type=TensorType((8,), "binary")), "fc1": n.LoihiDense(weight=weights(rng, (8, 8), -20, 90)),
             "l1": lif((8,), vth=100, bias=6, rng=rng), "fc2": n.LoihiDense(weight=weights(rng, (8, 8), -30, 90)),
             "l2": lif((8,), vth=100), "fc3": n.LoihiDense(weight=weights(rng, (6, 8), -30, 90)),
             "skip": n.LoihiDense(weight=weights(rng, (6, 8), -60, 60)), "l3": lif((6,), vth=110, dv=1024),
             "out": n.Output()}
    return graph(nodes, [("in", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "fc3"), ("fc3", "l3"),
                         ("l1", "skip"), ("skip", "l3"), ("l3", "out")])


def spikes(rng: np.random.Generator, steps: int, batch: int, shape: tuple[int, ...], rate: float = 0.4) -> np.ndarray:
    return (rng.random((steps, batch, *shape)) < rate).astype(np.float64)
