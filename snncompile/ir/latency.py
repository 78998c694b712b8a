"""Latency on pipelined targets, where every synapse layer takes one step, and the delays that balance it.

The IR's semantics are per step: a spike crosses any number of layers within one step (docs/semantics.md). On Lava
(and Loihi, and SpiNNaker) every synapse process sends what it computed in the previous step, so a value leaves a
synapse one step late. A node's **latency** L(v) is how many steps its value on the target lags the reference: the
target's value of v at step t is the reference's at t - L(v). Where paths of different latency meet (a residual
add, two synapse layers into one neuron), the shorter path needs a delay, or the sum mixes different steps.

Latencies are the least integers L >= 0 that satisfy, for every edge u -> v (Bellman-Ford longest paths, networkx):

* ``L(v) >= L(u) + lat(v)``, ``lat(v) = 1`` for a synapse (``step_ops``), 0 otherwise;
* ``L(p) >= L(s) - 1`` for the edge s -> p into a Previous node p (the reference's one-step delay: the target
  needs only ``L(p) + 1 - L(s)`` steps of its own there, none when a synapse on the loop already takes the step).

Each edge then needs ``delay = L(v) - L(u) - lat(v)`` extra steps (``L(p) + 1 - L(s)`` into a Previous). A
recurrent loop is feasible when it takes no more steps than its Previous nodes give: one synapse layer on a
one-Previous loop is exact (the synapse's step IS the recurrence), none needs a delay of one step, two or more
cannot be shortened and are refused with the loop named. A target has no Previous nodes: ``port_feeds`` sees
through them, giving each port the computing nodes summed into it and the delay to put on each.

**Pipeline fill.** Before its inputs arrive, a node on the target runs on nothing: a neuron with a bias integrates
it, a synapse sends what its idle source gave. The reference starts every node at rest at t = 0 with zeros behind
every Previous node. So a target that must equal the reference holds each node at rest until its first valid input
arrives: the node's state is reset after each of its first ``L(v) - lat(v)`` steps (``Balance.fill``). Outputs are
complete after ``T + depth`` steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

import networkx as nx
import numpy as np

from snncompile.errors import UnsupportedError
from snncompile.ir import nodes as n
from snncompile.ir.graph import Edge, Graph

SYNAPSE_OPS = ("Affine", "Linear", "Conv1d", "Conv2d", "LoihiDense", "LoihiConv2d")
"""Ops that take one step on a pipelined target (``step_ops`` default)."""
_ORIGIN = ("origin",)  # the constraint graph's source; not a string, so never a node name


class UnbalancedLoop(UnsupportedError):
    """A recurrent loop takes more steps on the target than its Previous nodes allow."""

    def __init__(self, previous: str, reason: str):
        self.previous = previous
        self.reason = reason
        super().__init__(f"node '{previous}': {reason}")


@dataclasses.dataclass(frozen=True)
class Balance:
    """``latency[v]``: steps by which the target's value of node v lags the reference; ``delays[i]``: extra steps
    the target must add on ``graph.edges[i]``; ``fill[v]``: how many first steps v must be held at rest."""

    latency: Mapping[str, int]
    delays: tuple[int, ...]
    fill: Mapping[str, int]

    @property
    def depth(self) -> int:
        """The pipeline depth: the largest latency (run ``T + depth`` steps to see every node's T steps)."""
        return max(self.latency.values(), default=0)


def _loop_reason(graph: Graph, cycle: list[str], step_ops: Collection[str]) -> tuple[str, str]:
    steps = [v for v in cycle if graph.nodes[v].op in step_ops]
    previous = [v for v in cycle if isinstance(graph.nodes[v], n.Previous)]
    loop = " -> ".join(cycle + cycle[:1])
    return previous[0], (f"the recurrent loop {loop} holds {len(steps)} synapse layer(s) "
                         f"({', '.join(steps)}), each one step on a pipelined target, but recurs after "
                         f"{len(previous)} step(s) (its Previous node(s)); a loop may hold at most one synapse "
                         "layer per Previous node")


def balance(graph: Graph, step_ops: Collection[str] = SYNAPSE_OPS) -> Balance:
    """Every node's latency and every edge's delay (module docstring); raises UnbalancedLoop for a loop that takes
    too many steps."""
    lat = {v: int(node.op in step_ops) for v, node in graph.nodes.items()}
    need = [-1 if isinstance(graph.nodes[e.dst], n.Previous) else lat[e.dst] for e in graph.edges]
    cons = nx.DiGraph()
    cons.add_edges_from(((_ORIGIN, v) for v in graph.nodes), cost=0)
    for e, w in zip(graph.edges, need, strict=True):
        old = cons.get_edge_data(e.src, e.dst, {"cost": np.inf})["cost"]
        cons.add_edge(e.src, e.dst, cost=min(old, -w))
    try:
        dist = nx.single_source_bellman_ford_path_length(cons, _ORIGIN, weight="cost")
    except nx.NetworkXUnbounded:
        cycle = nx.find_negative_cycle(cons, _ORIGIN, weight="cost")[:-1]
        raise UnbalancedLoop(*_loop_reason(graph, cycle, step_ops)) from None
    latency = {v: -int(dist[v]) for v in graph.nodes}
    delays = tuple(latency[e.dst] - latency[e.src] - w for e, w in zip(graph.edges, need, strict=True))
    return Balance(latency, delays, {v: latency[v] - lat[v] for v in graph.nodes})


def port_feeds(graph: Graph, plan: Balance) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """Node -> port -> the (source, delay) pairs the target sums into that port, in edge order, for every node but
    the Previous nodes: a target has none (their step is in the delays), so they are seen through and every source
    is a node that computes."""
    into: dict[str, list[tuple[Edge, int]]] = {}
    for e, delay in zip(graph.edges, plan.delays, strict=True):
        into.setdefault(e.dst, []).append((e, delay))

    def through(src: str, delay: int) -> list[tuple[str, int]]:
        if not isinstance(graph.nodes[src], n.Previous):
            return [(src, delay)]
        return [pair for e, more in into.get(src, []) for pair in through(e.src, delay + more)]

    feeds: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for v, node in graph.nodes.items():
        if isinstance(node, n.Previous):
            continue
        feeds[v] = {}
        for e, delay in into.get(v, []):
            feeds[v].setdefault(e.port, []).extend(through(e.src, delay))
    return feeds
