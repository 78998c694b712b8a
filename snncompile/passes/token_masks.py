"""token-masks: AT-SNN's data-dependent token halting becomes a static, calibrated per-step mask.

Simulates the graph on calibration inputs (``data``: ``digits`` = the TRAIN split of
``snncompile.nn.data.load_digits_split``, never the test split, or a ``.npy`` array ``[N, *input_shape]``; the
first ``samples`` of them, each fed for ``steps`` steps), records every ``TokenHalting`` keep mask per (step,
token, sample) and replaces the node by a ``StaticTokenMask`` (same name, fed by the graph's Input for the batch
size) whose ``mask[t, k] = 0`` exactly when token k was halted at step t in at least ``p`` % of the calibration
samples. The mask stays per step (halting in AT-SNN grows along the steps); steps after the calibrated ones repeat
the last row. Nodes that then reach no Output are removed: the halting scores, their running sums and the merge
flags that only fed the halting. With ``shrink`` (default) the rows of tokens masked at EVERY step are then removed
from the layers they feed (``snncompile.passes.token_shrink``: shapes shrink, TokenSelect / TokenScatter at the
region's borders; EXACT with respect to the masked graph); rows masked at some steps only stay (counted as
skippable synapse-steps by ``token_shrink.shrink``).

``TokenMerge`` stays dynamic: its selection (which even token is averaged into which odd token, and which r of
them) is the argmax of similarities of the per-sample residual stream, so it is static under a static mask only
when the mask forces it (at most r live even tokens and at most one live odd token); the calibrated
masks of the digits model keep 4 to 16 tokens live, so no fixed averaging synapse set reproduces it. Its input
mask becomes the static one.

Preserved: NOT exact with respect to the original. The result equals the original on every input whose keep masks
equal the static ones (e.g. where a token is halted in all calibration samples and in the input, or in none);
elsewhere a token is halted for all samples or for none. Refused: a graph without ``TokenHalting`` (nothing to
calibrate) or with several Inputs.
Errors (one line): ``p`` outside ``(0, 100]``, ``samples`` or ``steps`` < 1, calibration data of the wrong shape.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from snncompile.errors import SnnError
from snncompile.ir import Edge, Graph
from snncompile.ir import nodes as n
from snncompile.ir.node import Node
from snncompile.passes import token_shrink
from snncompile.passes.base import Pass, PassResult
from snncompile.passes.rewrite import prune
from snncompile.sim import simulate


def refusal(graph: Graph, name: str) -> str | None:
    """Why the TokenHalting ``name`` cannot be calibrated, or None."""
    if len(graph.inputs) != 1:
        return f"the graph has {len(graph.inputs)} inputs; calibration feeds exactly one"
    return None


def calibration_inputs(data: str, samples: int, shape: tuple[int, ...]) -> np.ndarray:
    """``[samples', *shape]`` float64 calibration images (``digits``: the train split)."""
    if data == "digits":
        from snncompile.nn.data import load_digits_split

        x = load_digits_split()[0].numpy()
    elif Path(data).suffix == ".npy" and Path(data).is_file():
        x = np.load(data)
    else:
        raise SnnError(f"token-masks: calibration data must be 'digits' or an existing .npy file, got '{data}'")
    if tuple(x.shape[1:]) != shape or len(x) == 0:
        raise SnnError(f"token-masks: calibration data {list(x.shape)} does not fit the graph input {list(shape)}")
    return np.asarray(x[:samples], np.float64)


def halted_fraction(graph: Graph, x: np.ndarray, steps: int, nodes: list[str]) -> dict[str, np.ndarray]:
    """Per TokenHalting node: ``[steps, N]`` fraction of the samples in which the token is halted (keep = 0)."""
    traces = simulate(graph, np.broadcast_to(x, (steps,) + x.shape), trace=nodes).traces
    return {name: (traces[name] == 0).mean(1) for name in nodes}


@dataclasses.dataclass(frozen=True)
class TokenMasks(Pass):
    name = "token-masks"
    p: float = 80.0
    data: str = "digits"
    samples: int = 256
    steps: int = 4
    shrink: bool = True

    def rewrite(self, graph: Graph) -> PassResult:
        if not 0 < self.p <= 100:
            raise SnnError(f"token-masks: p must be a percentage in (0, 100], got {self.p}")
        if self.samples < 1 or self.steps < 1:
            raise SnnError(f"token-masks: samples and steps must be >= 1, got {self.samples} and {self.steps}")
        halts = [k for k in graph.order if isinstance(graph.nodes[k], n.TokenHalting)]
        if not halts:
            return PassResult(graph, False, (self.refuse("graph", "no TokenHalting node: nothing to calibrate"),))
        reasons = [(k, refusal(graph, k)) for k in halts]
        refusals = tuple(self.refuse(k, r) for k, r in reasons if r is not None)
        if refusals:
            return PassResult(graph, False, refusals)
        source = graph.inputs[0]
        x = calibration_inputs(self.data, self.samples, graph.types[source].shape)
        fractions = halted_fraction(graph, x, self.steps, halts)
        nodes: dict[str, Node] = dict(graph.nodes)
        for k in halts:
            nodes[k] = n.StaticTokenMask(mask=(fractions[k] < self.p / 100).astype(np.float64))
        edges = [e for e in graph.edges if e.dst not in fractions] + [Edge(source, k) for k in halts]
        masked = prune(graph.replace(nodes=nodes, edges=edges))
        return PassResult(prune(token_shrink.shrink(masked).graph) if self.shrink else masked, True)
