"""Target plugins, found through the entry-point group ``snncompile.targets`` and imported only when used.

A plugin is a package (the bundled ones are ``targets/snncompile_*/``, installed in the same distribution) that
registers ``NAME = "module:OBJECT"`` in the group, OBJECT being a ``snncompile.targets.target.Target``. Listing the
targets reads the installed distributions' metadata; a target's chips are found in its package's ``chips/``
folder without importing the package (``importlib.util.find_spec`` locates it); ``load_target`` imports the plugin
module itself, which must not import a vendor SDK at import time (docs/targets.md, "Writing a target").
"""

from __future__ import annotations

import functools
import importlib.util
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from snncompile.errors import SnnError, UnsupportedError

if TYPE_CHECKING:
    from snncompile.targets.target import Target

GROUP = "snncompile.targets"


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    found = sorted(entry_points(group=GROUP), key=lambda ep: ep.name)
    return {ep.name: ep for ep in found}


def target_names() -> list[str]:
    """Every registered target, sorted."""
    names = list(_entry_points())
    if not names:
        raise SnnError(f"no target plugin is installed (entry-point group {GROUP}); reinstall snncompile: make setup")
    return names


def _entry(name: str) -> EntryPoint:
    points = _entry_points()
    if name not in points:
        raise UnsupportedError(f"unknown target '{name}' (targets: {', '.join(target_names())})")
    return points[name]


@functools.cache
def load_target(name: str) -> Target:
    """The target registered as ``name``: its plugin module is imported now."""
    from snncompile.targets.target import Target

    loaded = _entry(name).load()
    if not isinstance(loaded, Target) or loaded.name != name:
        raise SnnError(f"the plugin registered as target '{name}' ({_entry(name).value}) is not a Target named "
                       f"'{name}'")
    return loaded


def chip_folders() -> dict[str, Path]:
    """Target -> its plugin package's ``chips/`` folder, for the targets that have one (nothing is imported)."""
    folders = {}
    for name, ep in _entry_points().items():
        spec = importlib.util.find_spec(ep.module.partition(".")[0])
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        chips = [Path(p) / "chips" for p in locations if (Path(p) / "chips").is_dir()]
        if chips:
            folders[name] = chips[0]
    return folders
