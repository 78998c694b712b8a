"""Tracing by execution: run a model once on a concrete input and report every torch-level call.

``record(model, x, listener)`` runs ``model(x)`` under a ``TorchFunctionMode`` and with every module's ``forward``
wrapped (the model must be a private copy: its instances' ``forward`` attributes are replaced). What ran is what is
reported, so Python control flow on shapes (``if x.dim() != 5``, ``T, B, C, H, W = x.shape``) is resolved by the
run itself, as with ``torch.jit.trace``. The listener decides which modules are leaves: a leaf's call is reported
once, with its inputs and output, and nothing inside it is; the listener may also compute a leaf's output itself
(the neurons, so that no backend of the neuron library has to run). Every report carries its ``Site``: the module
path and the source line of the call (the innermost frame outside torch and snncompile's frontend).
"""

from __future__ import annotations

import linecache
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

_SKIP = (str(Path(torch.__file__).parent), str(Path(__file__).parent))


@dataclass(frozen=True)
class Site:
    module: str  # qualified module path ("" for the model itself)
    source: str  # "file.py:123: code"

    def __str__(self) -> str:
        where = f"module '{self.module}'" if self.module else "the model's forward"
        return f"{where} ({self.source})" if self.source else where


class Listener(Protocol):
    def is_leaf(self, module: nn.Module) -> bool: ...

    def leaf(self, module: nn.Module, path: str, args: tuple, forward: Callable[..., Any], site: Site) -> Any: ...

    def function(self, func: Callable, args: tuple, kwargs: dict, out: Any, site: Site) -> None: ...


def _source() -> str:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_SKIP):
        frame = frame.f_back
    if frame is None:
        return ""
    name, line = frame.f_code.co_filename, frame.f_lineno
    code = linecache.getline(name, line).strip()
    return f"{Path(name).name}:{line}: {code}" if code else f"{Path(name).name}:{line}"


class _Mode(TorchFunctionMode):
    def __init__(self, recorder: _Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rec = self.recorder
        if rec.depth == 0:
            rec.depth += 1  # the listener's own torch calls are not recorded
            try:
                rec.listener.function(func, args, kwargs, out, Site(rec.stack[-1], _source()))
            finally:
                rec.depth -= 1
        return out


class _Recorder:
    def __init__(self, listener: Listener):
        self.listener = listener
        self.depth = 0  # > 0 inside a leaf or the listener
        self.stack = [""]

    def wrap(self, module: nn.Module, path: str) -> None:
        forward = module.forward
        leaf = self.listener.is_leaf(module)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if self.depth > 0:
                return forward(*args, **kwargs)
            if not leaf:
                self.stack.append(path)
                try:
                    return forward(*args, **kwargs)
                finally:
                    self.stack.pop()
            if kwargs:
                raise TypeError(f"module '{path}' called with keyword arguments")
            site = Site(path, _source())
            self.depth += 1
            try:
                return self.listener.leaf(module, path, args, forward, site)
            finally:
                self.depth -= 1

        module.forward = wrapped


def record(model: nn.Module, x: torch.Tensor, listener: Listener) -> Any:
    """Run ``model(x)`` once, reporting to ``listener``; returns the model's output."""
    recorder = _Recorder(listener)
    for path, module in model.named_modules():
        recorder.wrap(module, path)
    with torch.no_grad(), _Mode(recorder):
        return model(x)
