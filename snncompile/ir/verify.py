"""The verifier: every rule a graph must satisfy, checked after construction, import and every pass.

A broken rule raises IRError naming the node and the rule; ``stage`` names the pass or step that produced the graph
so the message says where the graph went wrong.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from snncompile.errors import IRError
from snncompile.ir.graph import Graph
from snncompile.ir.nodes import Input, Output, Previous


def verify(graph: Graph, allowed_ops: Collection[str] | None = None, stage: str = "") -> Graph:
    """Check ``graph``; return it unchanged if it is valid."""
    try:
        _check(graph, allowed_ops)
    except IRError as err:
        if not stage:
            raise
        raise IRError(err.node, f"{err.rule} (after {stage})") from None
    return graph


def _check(graph: Graph, allowed_ops: Collection[str] | None) -> None:
    if not (math.isfinite(graph.dt) and graph.dt > 0):
        raise IRError(None, f"dt must be a positive number, got {graph.dt}")
    if not graph.inputs or not graph.outputs:
        raise IRError(None, "a graph needs at least one Input and one Output node")
    for e in graph.edges:
        for end in (e.src, e.dst):
            if end not in graph.nodes:
                raise IRError(end, f"edge {e.src} -> {e.dst} names a node that does not exist")
        dst = graph.nodes[e.dst]
        if e.port not in dst.ports:
            raise IRError(e.dst, f"{dst.op} has no port '{e.port}' (ports: {list(dst.ports) or 'none'})")
        if isinstance(graph.nodes[e.src], Output):
            raise IRError(e.src, "an Output node cannot feed other nodes")
    for name, node in graph.nodes.items():
        if allowed_ops is not None and node.op not in allowed_ops:
            raise IRError(name, f"{node.op} is not allowed at this stage (allowed: {', '.join(sorted(allowed_ops))})")
        bad = node.nonfinite_params()
        if bad:
            raise IRError(name, f"parameter(s) {', '.join(bad)} contain NaN or infinity")
        if not isinstance(node, Input) and not graph.sources(name):
            raise IRError(name, f"{node.op} has no incoming edge")
    graph.types  # noqa: B018 - inference checks order (no cycles), ports and shapes
    for name, node in graph.nodes.items():
        if not isinstance(node, Previous):
            continue
        declared, actual = node.type, graph.port_types(name)["input"]
        if declared != actual:
            raise IRError(name, f"Previous declares type {declared} but its input is {actual}")
