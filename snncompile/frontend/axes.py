"""Where time and batch live in a multi-step tensor: axis provenance, tracked through every view operation.

A multi-step model computes on tensors such as ``[T, B, C, H, W]``, ``[T*B, C, H, W]`` (``x.flatten(0, 1)``) or
``[T, B, heads, N, d]``. The per-step IR needs, for every such tensor, which of its elements belong to which time
step and sample. A ``Layout`` says it by provenance, never by guessing from sizes: each axis is a tuple of
*atoms*, the original axes merged into it in row-major order. An atom is the time axis (``T``), the batch axis
(``B``) or a per-sample feature axis (``F`` with a unique id). ``x.flatten(0, 1)`` of ``[(T), (B), (F1)]`` is
``[(T, B), (F1)]``; ``reshape(T, B, 3, h, d)`` of ``[(T, B), (F2)]`` splits ``F2`` into three new feature atoms.
Splitting a ``T`` or ``B`` atom (``reshape(2 * T, ...)``) is refused: the row-major order no longer separates steps.

The per-sample tensor the IR sees is the tensor with its ``T`` and ``B`` atoms taken out, feature atoms kept in
order of appearance; an axis made only of ``T``/``B`` atoms disappears. ``canonical`` turns a recorded tensor into
``[T, B, *per-sample shape]`` by exactly that rule.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

TIME, BATCH, FEATURE = "T", "B", "F"
_ids = itertools.count()


@dataclass(frozen=True)
class Atom:
    kind: str  # TIME, BATCH or FEATURE
    size: int
    uid: int = -1  # FEATURE atoms only

    @property
    def is_feature(self) -> bool:
        return self.kind == FEATURE


Layout = tuple[tuple[Atom, ...], ...]


class LayoutError(ValueError):
    """An operation that would split or interleave the time or batch axis; the message says how."""


def feature(size: int) -> Atom:
    return Atom(FEATURE, int(size), next(_ids))


def input_layout(shape: tuple[int, ...], form: str) -> Layout:
    """The layout of a model input: ``form`` "sequence" is ``[T, B, *features]``, "static" ``[B, *features]``."""
    lead = (Atom(TIME, shape[0]), Atom(BATCH, shape[1])) if form == "sequence" else (Atom(BATCH, shape[0]),)
    return tuple((a,) for a in lead) + tuple((feature(s),) for s in shape[len(lead):])


def fresh(shape: tuple[int, ...]) -> Layout:
    """Feature-only axes of the given sizes."""
    return tuple((feature(s),) for s in shape)


def atoms(layout: Layout, kind: str) -> list[Atom]:
    return [a for axis in layout for a in axis if a.kind == kind]


def has(layout: Layout, kind: str) -> bool:
    return bool(atoms(layout, kind))


def is_batch_axis(axis: tuple[Atom, ...]) -> bool:
    """Only time/batch atoms (the axis disappears per sample)."""
    return bool(axis) and not any(a.is_feature for a in axis)


def is_feature_axis(axis: tuple[Atom, ...]) -> bool:
    """No time/batch atom (also an atom-less axis of size 1)."""
    return all(a.is_feature for a in axis)


def sample_axes(layout: Layout) -> list[int]:
    """The tensor axes that remain in the per-sample tensor, in order."""
    return [i for i, axis in enumerate(layout) if not is_batch_axis(axis)]


def sample_shape(layout: Layout) -> tuple[int, ...]:
    return tuple(int(np.prod([a.size for a in layout[i] if a.is_feature])) for i in sample_axes(layout))


def sample_axis(layout: Layout, dim: int) -> int | None:
    """The per-sample axis of tensor axis ``dim``; None if ``dim`` holds a time or batch atom."""
    dim %= len(layout)
    if not is_feature_axis(layout[dim]):
        return None
    return sample_axes(layout).index(dim)


def view(layout: Layout, shape: tuple[int, ...]) -> Layout:
    """The layout after a row-major reshape to ``shape``: atoms are regrouped in order; a feature atom may be
    split into new ones, a time or batch atom may not. Size-1 feature atoms carry nothing and are dropped; a
    size-1 output axis is a new feature atom."""
    queue = [a for axis in layout for a in axis if not (a.is_feature and a.size == 1)]
    out: list[tuple[Atom, ...]] = []
    for size in shape:
        if size == 1:
            out.append((feature(1),))
            continue
        group: list[Atom] = []
        rest = int(size)
        while rest > 1:
            if not queue:
                raise LayoutError(f"cannot regroup the axes into {list(shape)}")
            atom = queue.pop(0)
            if rest % atom.size == 0:
                group.append(atom)
                rest //= atom.size
            elif atom.is_feature and atom.size % rest == 0:
                group.append(feature(rest))
                queue.insert(0, feature(atom.size // rest))
                rest = 1
            else:
                what = {TIME: "the time axis", BATCH: "the batch axis"}.get(atom.kind, "an axis")
                raise LayoutError(f"the reshape to {list(shape)} splits {what} (size {atom.size})")
        out.append(tuple(group))
    if queue:
        raise LayoutError(f"cannot regroup the axes into {list(shape)}")
    return tuple(out)


def permute(layout: Layout, perm: tuple[int, ...]) -> Layout:
    return tuple(layout[p] for p in perm)


def feature_order(layout: Layout) -> list[Atom]:
    """Feature atoms in row-major order of appearance: the element order of the per-sample tensor."""
    return [a for axis in layout for a in axis if a.is_feature and a.size > 1]


def _order(layout: Layout) -> tuple[list[int], list[int], list[int]]:
    """(atom sizes in tensor order, the permutation putting T, B, then features first, the canonical shape)."""
    flat = [a for axis in layout for a in axis]
    lead = [i for kind in (TIME, BATCH) for i, a in enumerate(flat) if a.kind == kind]
    perm = lead + [i for i, a in enumerate(flat) if a.is_feature]
    return [a.size for a in flat], perm, [flat[i].size for i in lead] + list(sample_shape(layout))


def canonical(x: np.ndarray, layout: Layout) -> np.ndarray:
    """A recorded tensor as ``[T, B, *per-sample shape]`` (``[B, ...]`` if it has no time atom)."""
    sizes, perm, shape = _order(layout)
    return np.transpose(np.asarray(x).reshape(sizes), perm).reshape(shape)


def to_steps(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """``canonical`` for a torch tensor."""
    sizes, perm, shape = _order(layout)
    return x.reshape(sizes).permute(perm).reshape(shape)


def from_steps(y: torch.Tensor, layout: Layout, shape: tuple[int, ...]) -> torch.Tensor:
    """The inverse of ``to_steps``: ``[T, B, *per-sample shape]`` back to the tensor's own ``shape``."""
    sizes, perm, _ = _order(layout)
    inverse = [perm.index(i) for i in range(len(perm))]
    return y.reshape([sizes[i] for i in perm]).permute(inverse).reshape(shape)
