"""Linear maps between kept nodes as terms on row-major flat vectors (used by tokens-to-vectors).

A value is an ``Expr``: ``sum_g L_g (sum_{s in g.srcs} flat(s)) + bias`` over ``Group``s of kept sources, with the
value's shape in the original graph. ``apply`` pushes one folded node (Affine, Linear, Scale, BatchNorm, Mean,
Transpose, Reshape, Flatten) through it by acting on the rows of every ``L_g`` and on the bias; ``sum_terms`` adds the
expressions on one port, merging groups that can share an Affine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from snncompile.ir import nodes as n
from snncompile.ir.node import Node

Rows = Callable[[np.ndarray], np.ndarray]  # a linear map on arrays [*in_shape, k] -> [*out_shape, k]


@dataclasses.dataclass(frozen=True)
class Group:
    """``L @ sum of flat(src) over srcs``; ``L`` None is the identity. ``label`` names a shared Flatten, ``syn`` the
    last folded synapse (it names the Affine)."""

    weight: np.ndarray | None
    srcs: tuple[str, ...]
    label: str
    syn: str | None = None


@dataclasses.dataclass(frozen=True)
class Expr:
    """A value of shape ``shape`` (the original graph's) as groups of kept sources plus a bias (flat, or None)."""

    groups: tuple[Group, ...]
    bias: np.ndarray | None
    shape: tuple[int, ...]


def _op_rows(node: Node, shape: tuple[int, ...]) -> tuple[Rows, np.ndarray | None]:
    """A folded node as a linear map on row blocks ``[*shape, k]`` and its offset (or None)."""
    nd = len(shape)
    if isinstance(node, (n.Affine, n.Linear)):
        return (lambda a: np.einsum("oi,...ik->...ok", node.weight, a)), getattr(node, "bias", None)
    if isinstance(node, n.Scale):
        return (lambda a: a * np.broadcast_to(node.scale, shape)[..., None]), None
    if isinstance(node, n.BatchNorm):
        axis, (a, c) = node.axis % nd, node.channel_scale_shift()
        along = [-1 if i == axis else 1 for i in range(nd)]
        return (lambda r: r * a.reshape(along)[..., None]), np.broadcast_to(c.reshape(along), shape)
    if isinstance(node, n.Mean):
        return (lambda a: a.mean(axis=node.axis % nd)), None
    if isinstance(node, n.Transpose):
        return (lambda a: a.transpose(*node.perm, nd)), None
    return (lambda a: a), None  # Reshape, Flatten: the identity on row-major flat vectors


def apply(node: Node, name: str, e: Expr, out: tuple[int, ...]) -> Expr:
    rows, offset = _op_rows(node, e.shape)
    syn = name if isinstance(node, (n.Affine, n.Linear)) else None
    size, groups = int(np.prod(out, dtype=int)), []
    for g in e.groups:
        if g.weight is None and isinstance(node, (n.Affine, n.Linear)):
            weight = np.kron(np.eye(int(np.prod(e.shape[:-1], dtype=int))), node.weight)
        else:
            k = int(np.prod(e.shape, dtype=int)) if g.weight is None else g.weight.shape[1]
            block = np.eye(k) if g.weight is None else g.weight
            weight = rows(block.reshape(*e.shape, k)).reshape(size, k)
        groups.append(Group(weight, g.srcs, g.label, syn or g.syn))
    bias = None if e.bias is None else rows(e.bias.reshape(*e.shape, 1)).reshape(size)
    if offset is not None:
        bias = np.broadcast_to(offset, out).reshape(size) + (0 if bias is None else bias)
    return Expr(tuple(groups), bias, out)


def sum_terms(exprs: list[Expr], name: str, shapes: dict[str, tuple[int, ...]],
         relayout: Callable[[Group, Group, str], Group | None]) -> Expr:
    """The sum of the expressions on one port; groups with the same weight (or both identities over sources of one
    shape) share an Affine, groups over the same sources add their weights, and a free neuron's identity group takes
    the layout of a permutation group (``relayout``) to share its Affine."""
    groups: list[Group] = []
    for g in (g for e in exprs for g in e.groups):
        for i, h in enumerate(groups):
            if g.srcs == h.srcs and g.weight is not None and h.weight is not None:
                groups[i] = Group(g.weight + h.weight, h.srcs, h.label, h.syn)
                break
            same_identity = g.weight is None and h.weight is None and shapes[g.srcs[0]] == shapes[h.srcs[0]]
            if same_identity or (g.weight is not None and h.weight is not None and np.array_equal(g.weight, h.weight)):
                groups[i] = Group(h.weight, h.srcs + g.srcs, name, h.syn or g.syn)
                break
            if (merged := relayout(h, g, name)) is not None:
                groups[i] = merged
                break
        else:
            groups.append(g)
    biases = [e.bias for e in exprs if e.bias is not None]
    return Expr(tuple(groups), sum(biases[1:], biases[0]) if biases else None, exprs[0].shape)


def permutation(weight: np.ndarray | None) -> np.ndarray | None:
    """``sigma`` with ``weight[i, sigma[i]] = 1`` the only non-zeros, if ``weight`` is a permutation matrix."""
    if weight is None or weight.shape[0] != weight.shape[1] or not np.isin(weight, (0.0, 1.0)).all():
        return None
    ok = (weight.sum(axis=0) == 1).all() and (weight.sum(axis=1) == 1).all()
    return weight.argmax(axis=1) if ok else None
