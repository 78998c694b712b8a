"""snncompile: a deployment compiler for trained spiking transformers.

The Python API (``snncompile.api``) is reachable from here without importing it up front: ``snncompile.compile``,
``snncompile.check``, ``snncompile.lower``, ``snncompile.list_targets``.
"""

from typing import Any

__version__ = "0.1.0"

API = ("compile", "check", "lower", "list_targets", "run_passes")


def __getattr__(name: str) -> Any:
    if name in API:
        from snncompile import api

        return getattr(api, name)
    raise AttributeError(f"module 'snncompile' has no attribute '{name}'")
