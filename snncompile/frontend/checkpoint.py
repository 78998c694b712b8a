"""Checkpoints -> torch models, with every failure reported as one line.

A checkpoint is either ``{"config": NAME, "state_dict": {...}, ...}`` (what snncompile's examples save; other keys
such as ``T`` are kept as metadata) or a bare state_dict. The model comes from a zoo config (``--config`` or the
checkpoint's own) or from a factory the user names as ``path/to/file.py:function`` or ``package.module:function``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snncompile.errors import InputFileError, UnsupportedError, one_line
from snncompile.files import check_input
from snncompile.frontend import legacy_neurons
from snncompile.nn.zoo import CONFIGS


def _factory(spec: str) -> Callable[[], nn.Module]:
    target, _, func = spec.rpartition(":")
    if not target or not func:
        raise UnsupportedError(f"--model '{spec}': expected FILE.py:FUNCTION or package.module:FUNCTION")
    try:
        if target.endswith(".py"):
            check_input(target)
            loader = importlib.util.spec_from_file_location(Path(target).stem, target)
            assert loader is not None and loader.loader is not None  # a .py path always has a source file loader
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except (ImportError, SyntaxError) as err:
        raise InputFileError(f"--model '{spec}': cannot import {target}: {one_line(err)}{_version_hint(err)}"
                             ) from None
    except Exception as err:  # the user's module runs arbitrary code at import
        raise InputFileError(f"--model '{spec}': importing {target} failed: {one_line(err)}") from None
    if not callable(getattr(module, func, None)):
        raise UnsupportedError(f"--model '{spec}': {target} has no function '{func}'")
    return getattr(module, func)


def _version_hint(err: BaseException) -> str:
    """Which SpikingJelly release a missing module belongs to (each pins one API; they cannot share a venv)."""
    missing = getattr(err, "name", None) or ""
    if missing.startswith("spikingjelly.clock_driven"):
        return ("; this is the API of SpikingJelly 0.0.0.0.12 and earlier: run snncompile where that version is "
                "installed (docs/spikingjelly.md)")
    if missing.startswith("spikingjelly"):
        return "; install the SpikingJelly version the model was written for (docs/spikingjelly.md)"
    return ""


def build_model(spec: str) -> nn.Module:
    """The model the factory ``spec`` (``FILE.py:FUNCTION``) returns; any failure is one line."""
    factory = _factory(spec)
    try:
        with legacy_neurons.cupy_allowed():
            model = factory()
    except Exception as err:  # the user's build() can raise anything
        raise UnsupportedError(f"--model '{spec}': {getattr(factory, '__name__', 'the factory')}() raised "
                               f"{type(err).__name__}: {one_line(err)}{_version_hint(err)}") from None
    if not isinstance(model, nn.Module):
        raise UnsupportedError(f"--model '{spec}': returned {type(model).__name__}, not a torch.nn.Module")
    return model


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, metadata) of a checkpoint file."""
    path = check_input(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or foreign files
        raise InputFileError(f"{path}: not a readable PyTorch checkpoint ({one_line(err)})") from None
    if not isinstance(data, dict):
        raise InputFileError(f"{path}: expected a state_dict or a dict with 'state_dict', got {type(data).__name__}")
    if isinstance(data.get("state_dict"), dict):
        return data["state_dict"], {k: v for k, v in data.items() if k != "state_dict"}
    if data and all(torch.is_tensor(v) for v in data.values()):
        return data, {}
    raise InputFileError(f"{path}: expected a state_dict or a dict with 'state_dict'")


def load_model(path: str | Path, *, config: str | None = None, factory: str | None = None
               ) -> tuple[nn.Module, dict[str, Any]]:
    """The model a checkpoint describes, weights loaded, in eval mode; plus the checkpoint's metadata."""
    state, meta = read_checkpoint(path)
    if factory is not None:
        model = build_model(factory)
    else:
        name = config or meta.get("config")
        if name is None:
            raise UnsupportedError(f"{path}: the checkpoint names no model; pass --config (one of "
                                   f"{', '.join(CONFIGS)}) or --model FILE.py:FUNCTION")
        if name not in CONFIGS:
            raise UnsupportedError(f"unknown config '{name}'; known configs: {', '.join(CONFIGS)}")
        model = CONFIGS[name](**({"num_classes": meta["num_classes"]} if "num_classes" in meta else {}))
    result = model.load_state_dict(state, strict=False)
    problems = [f"missing keys: {', '.join(result.missing_keys[:5])}" if result.missing_keys else "",
                f"unexpected keys: {', '.join(result.unexpected_keys[:5])}" if result.unexpected_keys else ""]
    if any(problems):
        raise InputFileError(f"{path}: state_dict does not fit the model ({'; '.join(p for p in problems if p)})")
    return model.eval(), meta
