"""torch functions and tensor methods -> IR nodes, for the operations the tracer meets between modules.

Dims given to torch count the batch axis (dim 0); IR dims do not. A converter gets the call's arguments (IR node
names stand for tensors), the per-sample shapes of its tensor inputs and of its output, and returns an IR node plus
the ports its tensor arguments feed — or None to mean "same value as the first input" (contiguous, dropout...).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from snncompile.errors import UnsupportedError
from snncompile.ir import nodes as n
from snncompile.ir.node import Node

Shape = tuple[int, ...]
Result = tuple[Node, tuple[str, ...]] | None
Converter = Callable[[str, list[Any], dict[str, Any], list[Shape], Shape], Result]


class Tensor(str):
    """An argument that is a traced tensor (its value is the IR node name)."""


def _dim(d: int, where: str) -> int:
    if d == 0:
        raise UnsupportedError(f"{where}: operations on the batch axis (dim 0) are not supported")
    return d - 1 if d > 0 else d


def _tensors(args: list[Any]) -> list[Tensor]:
    return [a for a in args if isinstance(a, Tensor)]


def _add(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    if len(_tensors(args)) != 2 or len(args) != 2:
        raise UnsupportedError(f"{where}: only tensor + tensor is supported (no constants)")
    if shapes[0] != shapes[1]:
        raise UnsupportedError(f"{where}: broadcasting add of {list(shapes[0])} and {list(shapes[1])} is not supported")
    return n.Add(), ("input", "input")


def _mul(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    consts = [a for a in args if not isinstance(a, Tensor)]
    if len(_tensors(args)) != 1 or len(consts) != 1 or not isinstance(consts[0], int | float):
        raise UnsupportedError(f"{where}: only multiplication of a tensor by a constant number is supported")
    return n.Scale(scale=np.asarray(float(consts[0]))), ("input",)


def _matmul(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    if len(_tensors(args)) != 2:
        raise UnsupportedError(f"{where}: matmul needs two traced tensors (use nn.Linear for fixed weights)")
    return n.SpikeMatMul(), ("a", "b")


def _flatten(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    start = args[1] if len(args) > 1 else kw.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kw.get("end_dim", -1)
    return n.Flatten(start_dim=_dim(start, where), end_dim=_dim(end, where) if end != -1 else -1), ("input",)


def _transpose(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    a, b = (_dim(d, where) % len(shapes[0]) for d in args[1:3])
    perm = list(range(len(shapes[0])))
    perm[a], perm[b] = perm[b], perm[a]
    return n.Transpose(perm=tuple(perm)), ("input",)


def _permute(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    dims = args[1] if len(args) == 2 and isinstance(args[1], list | tuple) else args[1:]
    if dims[0] % (len(shapes[0]) + 1) != 0:
        raise UnsupportedError(f"{where}: a permutation must keep the batch axis first")
    return n.Transpose(perm=tuple(_dim(d, where) % len(shapes[0]) for d in dims[1:])), ("input",)


def _reshape(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    return n.Reshape(shape=out), ("input",)


def _mean(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    dim = args[1] if len(args) > 1 else kw.get("dim")
    if not isinstance(dim, int) or kw.get("keepdim") or (len(args) > 2 and args[2]):
        raise UnsupportedError(f"{where}: only mean over one axis without keepdim is supported")
    return n.Mean(axis=_dim(dim, where)), ("input",)


def _same(where: str, args: list[Any], kw: dict, shapes: list[Shape], out: Shape) -> Result:
    return None


FUNCTIONS: dict[Any, Converter] = {
    operator.add: _add, torch.add: _add,
    operator.mul: _mul, torch.mul: _mul,
    operator.matmul: _matmul, torch.matmul: _matmul,
    torch.flatten: _flatten, torch.transpose: _transpose, torch.permute: _permute,
    torch.reshape: _reshape, torch.mean: _mean,
}
METHODS: dict[str, Converter] = {
    "add": _add, "__add__": _add, "mul": _mul, "matmul": _matmul, "flatten": _flatten, "transpose": _transpose,
    "permute": _permute, "reshape": _reshape, "view": _reshape, "mean": _mean, "contiguous": _same,
}


def supported_functions() -> str:
    names = {getattr(f, "__name__", str(f)) for f in FUNCTIONS} | set(METHODS)
    return ", ".join(sorted(names))
