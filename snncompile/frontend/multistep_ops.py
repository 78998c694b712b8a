"""Torch operations of a multi-step model -> per-step IR nodes, with the time and batch axes tracked by layout.

Each handler gets the builder (``snncompile.frontend.multistep``), the operation's name, its arguments (tracked
tensors stay tensors; ``b.value(t)`` gives their ``Value``), its output and its ``Site``. It emits IR nodes for the
per-sample tensors and binds every output tensor to a ``Value``. What a handler cannot express per step (an
operation over the time or batch axis, a product of two real tensors, ...) is refused naming the operation, the
module and the source line. Views and permutations of the time/batch axes alone emit nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from snncompile.frontend import axes
from snncompile.frontend.axes import BATCH, TIME, Layout, LayoutError
from snncompile.ir import nodes as n
from snncompile.ir.types import Kind

Handler = Callable[..., None]


def _first(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


# -- per-sample regrouping ---------------------------------------------------------------------------------------
def regrouped(b: Any, v: Any, layout: Layout, site: Any, op: str) -> Any:
    """``v`` under ``layout`` (same feature atoms, same order): a Reshape when the per-sample shape changes."""
    shape = axes.sample_shape(layout)
    if b.types[v.name].shape == shape:
        return b.derive(v, v.name, layout)
    return b.derive(v, b.emit(op, n.Reshape(shape=shape), [(v, "input")], site), layout)


def permuted(b: Any, v: Any, layout: Layout, site: Any, op: str) -> Any:
    """``v`` under ``layout`` whose feature atoms may be in another order: Reshape to one axis per atom,
    Transpose, Reshape (each only where it changes something)."""
    before, after = axes.feature_order(v.layout), axes.feature_order(layout)
    if before == after:
        return regrouped(b, v, layout, site, op)
    atomic = axes.fresh(())  # placeholder layout for the intermediate, only its shape matters
    split = [a.size for a in before]
    cur = v if b.types[v.name].shape == tuple(split) else b.derive(
        v, b.emit(op, n.Reshape(shape=tuple(split)), [(v, "input")], site), atomic)
    moved = b.emit(op, n.Transpose(perm=tuple(before.index(a) for a in after)), [(cur, "input")], site)
    return regrouped(b, b.derive(v, moved, atomic), layout, site, op)


def _view(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    v = b.value(args[0])
    try:
        layout = axes.view(v.layout, tuple(out.shape))
    except LayoutError as err:
        raise b.refuse(op, site, str(err)) from None
    b.bind(out, regrouped(b, v, layout, site, op))


def _permutation(op: str, args: tuple, kwargs: dict, ndim: int) -> tuple[int, ...]:
    if op in ("transpose", "swapaxes", "swapdims"):
        d0, d1 = (_first(args, kwargs, i, k) % ndim for i, k in ((1, "dim0"), (2, "dim1")))
        perm = list(range(ndim))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return tuple(perm)
    if op == "mT":
        return tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)
    if op in ("T", "t"):
        return tuple(reversed(range(ndim)))
    dims = args[1:] if len(args) > 2 or not isinstance(_first(args, kwargs, 1, "dims"), list | tuple) \
        else _first(args, kwargs, 1, "dims")
    return tuple(int(d) % ndim for d in dims)


def _permute(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    v = b.value(args[0])
    layout = axes.permute(v.layout, _permutation(op, args, kwargs, len(v.layout)))
    b.bind(out, permuted(b, v, layout, site, op))


def _same(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    if op in ("dropout", "feature_dropout", "alpha_dropout") and _first(args, kwargs, 2, "training", True):
        raise b.refuse(op, site, "dropout in training mode (trace in eval mode: training=False)")
    b.bind(out, b.value(args[0]))


# -- element-wise ------------------------------------------------------------------------------------------------
def aligned(b: Any, v: Any, shape: tuple[int, ...], layout: Layout, site: Any, op: str) -> Any:
    """Operand ``v`` (tensor shape ``shape``) broadcast against the output ``layout``: its per-sample tensor with
    one axis per per-sample axis of the output (size 1 where it broadcasts)."""
    pad = len(layout) - len(shape)
    full = (1,) * pad + tuple(shape)
    own = ((axes.feature(1),),) * pad + tuple(v.layout)
    for i, axis in enumerate(layout):
        if axes.is_batch_axis(axis) and full[i] != 1 and [a.kind for a in own[i]] != [a.kind for a in axis]:
            raise b.refuse(op, site, "its operands have the time and batch axes in different places")
        if not axes.is_batch_axis(axis) and not axes.is_feature_axis(own[i]):
            raise b.refuse(op, site, "an operand merges the time or batch axis with a feature axis")
    keep = tuple(own[i] if full[i] != 1 or not axes.is_batch_axis(layout[i]) else (axes.feature(1),)
                 for i in range(len(layout)) if not axes.is_batch_axis(layout[i]))
    shape_ps = tuple(int(np.prod([a.size for a in axis])) for axis in keep)
    if b.types[v.name].shape == shape_ps:
        return v
    return b.derive(v, b.emit(op, n.Reshape(shape=shape_ps), [(v, "input")], site), v.layout)


def _constant(b: Any, c: Any, layout: Layout, site: Any, op: str) -> np.ndarray:
    """A constant operand (number or tensor) as a per-sample array broadcastable to the output's sample shape."""
    arr = np.asarray(c.detach().double().numpy() if torch.is_tensor(c) else c, dtype=np.float64)
    if arr.ndim == 0:
        return arr
    full = arr.reshape((1,) * (len(layout) - arr.ndim) + arr.shape)
    for i, axis in enumerate(layout):
        if full.shape[i] != 1 and not axes.is_feature_axis(axis):
            raise b.refuse(op, site, "a constant varies along the time or batch axis")
    return full.reshape([full.shape[i] for i in axes.sample_axes(layout)])


def _out_layout(b: Any, tensors: list[torch.Tensor], out: torch.Tensor) -> Layout:
    """The output layout of a broadcasting op: per axis, the layout of an operand that is not broadcast there."""
    shape = tuple(out.shape)
    result: list[tuple] = []
    for i in range(len(shape)):
        pick = None
        for t in tensors:
            j = i - (len(shape) - t.dim())
            if j >= 0 and t.shape[j] == shape[i] and (pick is None or shape[i] != 1):
                pick = b.value(t).layout[j]
                if shape[i] != 1:
                    break
        result.append(pick if pick is not None else (axes.feature(1),))
    return tuple(result)


def _arith(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    base = op.strip("_").removeprefix("i").removeprefix("r") if op.startswith("__") else op.rstrip("_")
    base = {"true_divide": "div", "truediv": "div", "subtract": "sub", "multiply": "mul"}.get(base, base)
    if _first(args, kwargs, 2, "alpha", 1) != 1 or kwargs.get("rounding_mode"):
        raise b.refuse(op, site, "alpha and rounding_mode are not supported")
    x, y = args[0], args[1]
    if op.startswith("__r"):
        x, y = y, x
    tracked = [t for t in (x, y) if b.value(t) is not None]
    layout = _out_layout(b, tracked, out)
    if len(tracked) == 2:
        return _binary(b, base, op, x, y, out, layout, site)
    t, c = (x, y) if b.value(x) is not None else (y, x)
    v = aligned(b, b.value(t), tuple(t.shape), layout, site, op)
    if base == "mul" or (base == "div" and t is x):
        scale = _constant(b, c, layout, site, op)
        if base == "div":
            scale = 1.0 / scale
            if not np.all(np.frexp(scale)[0] == 0.5):
                b.warn(site, f"division by {c if np.ndim(c) == 0 else 'a constant'} is compiled as a "
                             "multiplication by its reciprocal (may differ in the last bit)")
        b.bind(out, b.derive(v, b.emit(op, n.Scale(scale=scale), [(v, "input")], site), layout))
        return
    raise b.refuse(op, site, f"{base} of a tensor and a constant is not supported (only multiplication and "
                             "division by a constant)")


def _binary(b: Any, base: str, op: str, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor, layout: Layout,
            site: Any) -> None:
    vx = aligned(b, b.value(x), tuple(x.shape), layout, site, op)
    vy = aligned(b, b.value(y), tuple(y.shape), layout, site, op)
    if base in ("add", "sub"):
        if b.types[vx.name].shape != b.types[vy.name].shape:
            raise b.refuse(op, site, f"broadcasting {base} of {list(x.shape)} and {list(y.shape)} is not supported")
        if base == "sub":
            vy = b.derive(vy, b.emit(op, n.Scale(scale=np.asarray(-1.0)), [(vy, "input")], site), vy.layout)
        b.bind(out, b.derive(vx, b.emit(op, n.Add(), [(vx, "input"), (vy, "input")], site), layout))
        return
    if base != "mul":
        raise b.refuse(op, site, f"{base} of two tensors is not supported")
    kinds = (b.types[vx.name].kind, b.types[vy.name].kind)
    shapes = (b.types[vx.name].shape, b.types[vy.name].shape)
    order = [(vx, vy), (vy, vx)]
    if kinds[1] == Kind.BINARY and (kinds[0] != Kind.BINARY or np.prod(shapes[1]) < np.prod(shapes[0])):
        order.reverse()
    mask, inp = order[0]
    if b.types[mask.name].kind != Kind.BINARY:
        raise b.refuse(op, site, "an element-wise product needs one spike operand (a mask); both are "
                                 f"{kinds[0]}/{kinds[1]}")
    if any(s % m for m, s in zip(b.types[mask.name].shape, b.types[inp.name].shape, strict=True)):
        raise b.refuse(op, site, f"the spike operand {list(b.types[mask.name].shape)} must broadcast to the "
                                 f"other {list(b.types[inp.name].shape)}")
    b.bind(out, b.derive(vx, b.emit(op, n.SpikeMask(), [(mask, "mask"), (inp, "input")], site), layout))


def _neg(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    v = b.value(args[0])
    b.bind(out, b.derive(v, b.emit(op, n.Scale(scale=np.asarray(-1.0)), [(v, "input")], site), v.layout))


# -- products and reductions -------------------------------------------------------------------------------------
def _matmul(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    x, y = (args[1], args[0]) if op == "__rmatmul__" else (args[0], args[1])
    if b.value(x) is None or b.value(y) is None:
        return _fixed_matmul(b, op, x, y, out, site)
    vx, vy = b.value(x), b.value(y)
    if x.dim() != y.dim() or x.dim() < 2 or x.shape[:-2] != y.shape[:-2]:
        raise b.refuse(op, site, f"broadcasting matrix products ({list(x.shape)} @ {list(y.shape)}) are not "
                                 "supported")
    if not all(axes.is_feature_axis(a) for a in vx.layout[-2:] + vy.layout[-2:]):
        raise b.refuse(op, site, "the last two axes of a matrix product must be feature axes")
    if [[a.kind for a in axis] for axis in vx.layout[:-2]] != [[a.kind for a in axis] for axis in vy.layout[:-2]]:
        raise b.refuse(op, site, "its operands have the time and batch axes in different places")
    layout = vx.layout[:-2] + (vx.layout[-2], vy.layout[-1])
    b.bind(out, b.derive(vx, b.emit(op, n.SpikeMatMul(), [(vx, "a"), (vy, "b")], site), layout))


def _fixed_matmul(b: Any, op: str, x: Any, y: Any, out: torch.Tensor, site: Any) -> None:
    if b.value(x) is None or not torch.is_tensor(y) or y.dim() != 2:
        raise b.refuse(op, site, "a fixed matrix is supported only on the right (x @ W with a 2-D W)")
    v = b.value(x)
    if not axes.is_feature_axis(v.layout[-1]):
        raise b.refuse(op, site, "the contracted axis must be a feature axis")
    node = n.Linear(weight=y.detach().double().numpy().T)
    b.bind(out, b.derive(v, b.emit(op, node, [(v, "input")], site), v.layout[:-1] + axes.fresh(out.shape[-1:])))


def _dims(arg: Any, ndim: int) -> list[int] | None:
    if arg is None:
        return None
    return sorted({int(d) % ndim for d in (arg if isinstance(arg, list | tuple) else (arg,))})


def _reduce(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    v = b.value(args[0])
    dims = _dims(_first(args, kwargs, 1, "dim"), len(v.layout))
    keep = bool(_first(args, kwargs, 2, "keepdim", False))
    if dims is None:
        raise b.refuse(op, site, "a reduction over all axes mixes time steps and samples; name the axes")
    time = [d for d in dims if all(a.kind == TIME for a in v.layout[d])]
    if time:
        if op != "mean" or keep or len(dims) > 1 or v.readout:
            raise b.refuse(op, site, "the only operation over the time axis is the readout x.mean(T axis), "
                                     "without keepdim and alone")
        b.bind(out, b.derive(v, v.name, v.layout[:dims[0]] + v.layout[dims[0] + 1:], readout=True))
        return
    if any(not axes.is_feature_axis(v.layout[d]) for d in dims):
        raise b.refuse(op, site, "a reduction over the batch axis (or an axis merged with it) mixes samples")
    cur = v
    for d in reversed(dims):
        axis = axes.sample_axis(cur.layout, d)
        assert axis is not None  # every reduced axis is a feature axis (checked above)
        node = n.Mean(axis=axis) if op == "mean" else n.Sum(axis=axis)
        cur = b.derive(cur, b.emit(op, node, [(cur, "input")], site), cur.layout[:d] + cur.layout[d + 1:])
    if keep:
        cur = regrouped(b, cur, axes.view(cur.layout, tuple(out.shape)), site, op)
    b.bind(out, cur)


# -- slicing and joining -----------------------------------------------------------------------------------------
def _size(v: Any, dim: int) -> int:
    return int(np.prod([a.size for a in v.layout[dim]]))


def _slice(b: Any, v: Any, dim: int, start: int, stop: int, site: Any, op: str) -> Any:
    if (start, stop) == (0, _size(v, dim)):
        return v
    axis = axes.sample_axis(v.layout, dim)
    if axis is None:
        what = "time steps (a loop over time is not supported: keep the whole sequence in tensor operations)" \
            if any(a.kind == TIME for a in v.layout[dim]) else "samples of the batch"
        raise b.refuse(op, site, f"it selects {what}")
    layout = v.layout[:dim] + axes.fresh((stop - start,)) + v.layout[dim + 1:]
    return b.derive(v, b.emit(op, n.Slice(axis=axis, start=start, stop=stop), [(v, "input")], site), layout)


def _split(b: Any, op: str, args: tuple, kwargs: dict, out: tuple, site: Any) -> None:
    v = b.value(args[0])
    default = 0 if op in ("chunk", "split", "unbind", "tensor_split") else None
    dim = int(_first(args, kwargs, 1 if op == "unbind" else 2, "dim", default)) % len(v.layout)
    start = 0
    for piece in out:
        stop = start + piece.shape[dim] if op != "unbind" else start + 1
        part = _slice(b, v, dim, start, stop, site, op)
        if op == "unbind":
            part = regrouped(b, part, part.layout[:dim] + part.layout[dim + 1:], site, op)
        b.bind(piece, part)
        start = stop


def _getitem(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    v, index = b.value(args[0]), args[1] if isinstance(args[1], tuple) else (args[1],)
    if any(torch.is_tensor(i) or isinstance(i, list) for i in index):
        raise b.refuse(op, site, "indexing with tensors or lists is not supported (use slices)")
    explicit = sum(1 for i in index if i is not None and i is not Ellipsis)
    items: list[Any] = []
    for i in index:
        items.extend([slice(None)] * (len(v.layout) - explicit) if i is Ellipsis else [i])
    cur, dim = v, 0
    for item in items:
        if item is None:
            cur = regrouped(b, cur, cur.layout[:dim] + ((axes.feature(1),),) + cur.layout[dim:], site, op)
        elif isinstance(item, slice):
            start, stop, step = item.indices(_size(cur, dim))
            if step != 1:
                raise b.refuse(op, site, "slices with a step are not supported")
            cur = _slice(b, cur, dim, start, stop, site, op)
        else:
            pos = int(item) % _size(cur, dim)
            cur = _slice(b, cur, dim, pos, pos + 1, site, op)
            cur = regrouped(b, cur, cur.layout[:dim] + cur.layout[dim + 1:], site, op)
            continue
        dim += 1
    b.bind(out, cur)


def _cat(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    tensors = list(args[0])
    dim = int(_first(args, kwargs, 1, "dim", 0)) % out.dim()
    if any(b.value(t) is None for t in tensors):
        raise b.refuse(op, site, "joining a traced tensor with a constant is not supported")
    views = [b.value(t) for t in tensors]
    if op == "stack":
        views = [regrouped(b, v, v.layout[:dim] + ((axes.feature(1),),) + v.layout[dim:], site, op) for v in views]
    if not all(axes.is_feature_axis(v.layout[dim]) for v in views):
        raise b.refuse(op, site, "it joins along the time or batch axis (e.g. per-step outputs of a loop over "
                                 "time; keep the whole sequence in tensor operations)")
    kinds = [[a.kind for a in axis] for axis in views[0].layout]
    if any([[a.kind for a in axis] for axis in v.layout] != kinds for v in views):
        raise b.refuse(op, site, "its operands have the time and batch axes in different places")
    cur, axis = views[0], axes.sample_axis(views[0].layout, dim)
    assert axis is not None  # the joined axis is a feature axis (checked above)
    for v in views[1:]:
        joined = cur.layout[:dim] + axes.fresh((_size(cur, dim) + _size(v, dim),)) + cur.layout[dim + 1:]
        cur = b.derive(cur, b.emit(op, n.Concat(axis=axis), [(cur, "a"), (v, "b")], site), joined)
    b.bind(out, cur)


def _repeat(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    """``x.unsqueeze(0).repeat(T, 1, ...)``, ``x.repeat(T, 1, ...)``, ``expand``: a static input over time."""
    v = b.value(args[0])
    if axes.has(v.layout, TIME):
        raise b.refuse(op, site, "repeating a tensor that already has a time axis is not supported")
    pad = out.dim() - args[0].dim()
    layout = ((axes.feature(1),),) * pad + tuple(v.layout)
    grown = [i for i in range(out.dim()) if out.shape[i] != (1 if i < pad else args[0].shape[i - pad])]
    if len(grown) != 1:
        raise b.refuse(op, site, "only a repeat of a static tensor along one axis (the new time axis) is supported")
    i = grown[0]
    steps = out.shape[i] // (1 if i < pad else args[0].shape[i - pad])
    axis = layout[i]
    if axes.is_feature_axis(axis) and int(np.prod([a.size for a in axis])) != 1:
        raise b.refuse(op, site, "it repeats a feature axis (only a new time axis is supported)")
    time = (axes.Atom(TIME, steps),)
    layout = layout[:i] + ((time + tuple(a for a in axis if not a.is_feature)),) + layout[i + 1:]
    if not axes.has(layout, BATCH):
        raise b.refuse(op, site, "the repeated tensor has no batch axis")
    b.bind(out, regrouped(b, v, layout, site, op))


def _adaptive_pool(b: Any, op: str, args: tuple, kwargs: dict, out: torch.Tensor, site: Any) -> None:
    v = b.value(args[0])
    if not all(axes.is_feature_axis(a) for a in v.layout[-3:]) or axes.sample_axis(v.layout, -3) is None:
        raise b.refuse(op, site, "needs [..., C, H, W] with C, H, W feature axes")
    size, want = tuple(args[0].shape[-2:]), tuple(out.shape[-2:])
    if any(s % w for s, w in zip(size, want, strict=True)):
        raise b.refuse(op, site, f"output size {list(want)} does not divide the input {list(size)}: not a fixed "
                                 "pooling window")
    k = tuple(s // w for s, w in zip(size, want, strict=True))
    node = n.AvgPool2d(kernel_size=k, stride=k, padding=(0, 0))
    b.bind(out, b.derive(v, b.emit(op, node, [(v, "input")], site), v.layout[:-2] + axes.fresh(want)))


def _value_read(b: Any, op: str, args: tuple, kwargs: dict, out: Any, site: Any) -> None:
    raise b.refuse(op, site, "it reads the data's values into Python (data-dependent control flow)")


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(("reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as"),
                    _view),
    **dict.fromkeys(("permute", "transpose", "swapaxes", "swapdims", "mT", "T", "t"), _permute),
    **dict.fromkeys(("contiguous", "clone", "detach", "to", "float", "double", "type_as", "cpu", "data",
                     "dropout", "feature_dropout", "alpha_dropout"), _same),
    **dict.fromkeys(("add", "__add__", "__radd__", "__iadd__", "add_", "sub", "__sub__", "__rsub__", "__isub__",
                     "sub_", "subtract", "mul", "__mul__", "__rmul__", "__imul__", "mul_", "multiply", "div",
                     "__truediv__", "__itruediv__", "div_", "true_divide"), _arith),
    **dict.fromkeys(("neg", "__neg__", "negative"), _neg),
    **dict.fromkeys(("matmul", "__matmul__", "__rmatmul__", "bmm"), _matmul),
    **dict.fromkeys(("sum", "mean"), _reduce),
    **dict.fromkeys(("chunk", "split", "unbind", "tensor_split"), _split),
    "__getitem__": _getitem,
    **dict.fromkeys(("cat", "concat", "concatenate", "stack"), _cat),
    **dict.fromkeys(("repeat", "expand", "expand_as"), _repeat),
    "adaptive_avg_pool2d": _adaptive_pool,
    **dict.fromkeys(("item", "tolist", "__bool__", "__int__", "__float__", "__index__"), _value_read),
}
TIME_LINEAR: tuple[type[n.Node], ...] = (n.Affine, n.Linear, n.Conv1d, n.Conv2d, n.BatchNorm, n.Scale, n.Mean, n.Sum,
                                         n.AvgPool2d, n.Flatten, n.Reshape, n.Transpose, n.Slice, n.Concat, n.Add)
"""Nodes that commute with the mean over time (linear, or affine with the mean of a constant): the only ones
allowed after the readout ``x.mean(0)``."""
