"""Multi-step neurons of older SpikingJelly releases, recognised by their module contract (placeholder)."""

from __future__ import annotations

from typing import Any

from torch import nn


def converter(module: nn.Module) -> Any:
    return None
