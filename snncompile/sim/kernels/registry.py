"""The kernel registry: node class -> builder of its step function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from snncompile.errors import UnsupportedError
from snncompile.ir.node import Node

Step = Callable[[dict[str, torch.Tensor], Any], tuple[torch.Tensor, Any]]


@dataclass(frozen=True)
class Kernel:
    step: Step


_BUILDERS: dict[type[Node], Callable[..., Step]] = {}


def kernel(cls: type[Node]) -> Callable[[Callable[..., Step]], Callable[..., Step]]:
    def register(builder: Callable[..., Step]) -> Callable[..., Step]:
        if cls in _BUILDERS:
            raise RuntimeError(f"two kernels for {cls.__name__}: {_BUILDERS[cls].__name__} and {builder.__name__}")
        _BUILDERS[cls] = builder
        return builder
    return register


def make_kernel(node: Node, dt: float, dtype: torch.dtype) -> Kernel:
    """The kernel of ``node``; ``p(field)`` gives a parameter array as a tensor of ``dtype``."""
    def p(name: str) -> torch.Tensor:
        return torch.tensor(np.asarray(getattr(node, name)), dtype=dtype)
    if type(node) not in _BUILDERS:
        raise UnsupportedError(f"the simulator has no kernel for {node.op} nodes")
    return Kernel(_BUILDERS[type(node)](node, p, dt))
