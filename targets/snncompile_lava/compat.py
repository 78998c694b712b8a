"""Import-time fixes that let lava-nc 0.10.0 run on Python 3.11 and numpy >= 2.4 (docs/lava.md, "Installing").

lava-nc is archived upstream; its last release predates both, and two of its modules break:

* ``lava.magma.compiler.var_model`` declares dataclass fields ``x: ByteEncoder = ByteEncoder()``. Python 3.11
  refuses an unhashable dataclass instance as a field default (``ValueError: mutable default ... use
  default_factory``), so importing any Lava process model fails. Fix: ``field(default_factory=ByteEncoder)``,
  which also gives every encoder its own instance instead of one shared default.
* ``lava.magma.core.process.ports.ports``: ``ReshapePort`` (what a port's ``.reshape()`` / ``.flatten()`` builds,
  e.g. conv -> flatten -> dense) reshapes with ``np.reshape(..., newshape=...)``, a keyword numpy 2.4 removed; the
  process then fails inside Lava's runtime with a vague error. Fix: pass the shape positionally.

``install()`` puts a finder on ``sys.meta_path`` that loads exactly these two modules from their installed source
with the text replaced, compiled without a bytecode cache (so site-packages is never written and an unpatched
interpreter still sees Lava's own code). Every replacement must match the installed text the expected number of
times, so another Lava release fails loudly here instead of half-patched. Call ``install()`` before the first
``import lava``; it is idempotent.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import CodeType, ModuleType

from snncompile.errors import SnnError


@dataclass(frozen=True)
class Replacement:
    old: str
    new: str
    count: int  # how many times ``old`` occurs in lava-nc 0.10.0's source


_RESHAPE_HELPER = '''

def _reshape_to(data, shape):
    """np.reshape with the shape passed positionally (numpy >= 2.4 has no ``newshape`` keyword)."""
    return np.reshape(data, shape)
'''

PATCHES: dict[str, tuple[Replacement, ...]] = {
    "lava.magma.compiler.var_model": (
        Replacement("from dataclasses import dataclass, InitVar\n",
                    "from dataclasses import dataclass, InitVar, field as _field\n", 1),
        Replacement(": ByteEncoder = ByteEncoder()\n", ": ByteEncoder = _field(default_factory=ByteEncoder)\n", 8),
    ),
    "lava.magma.core.process.ports.ports": (
        Replacement("ft.partial(np.reshape, newshape=self.shape)", "ft.partial(_reshape_to, shape=self.shape)", 1),
        Replacement("ft.partial(np.reshape, newshape=self.old_shape)",
                    "ft.partial(_reshape_to, shape=self.old_shape)", 1),
        Replacement("\nclass ReshapePort(", _RESHAPE_HELPER + "\n\nclass ReshapePort(", 1),
    ),
}

PATCHED_FLAG = "__snncompile_compat__"
"""Set on each module loaded through the fixes."""


class LavaCompatError(SnnError):
    """The installed Lava is not the one these fixes were written for, or was imported before them."""


def patch_source(module: str, source: str, replacements: Sequence[Replacement]) -> str:
    """``source`` of ``module`` with every replacement applied; raises LavaCompatError if one does not match."""
    for r in replacements:
        found = source.count(r.old)
        if found != r.count:
            raise LavaCompatError(f"{module}: expected {r.count} occurrence(s) of {r.old.strip()!r}, found {found}; "
                                  "the compatibility fixes are written for lava-nc 0.10.0 (requirements-lava.txt)")
        source = source.replace(r.old, r.new)
    return source


class _PatchedLoader(importlib.machinery.SourceFileLoader):
    """Loads a module from its source file with the replacements applied; never reads or writes bytecode."""

    def __init__(self, fullname: str, path: str, replacements: Sequence[Replacement]):
        super().__init__(fullname, path)
        self.replacements = tuple(replacements)

    def get_code(self, fullname: str) -> CodeType:
        source = self.get_source(fullname)
        if source is None:
            raise LavaCompatError(f"{fullname}: no source at {self.path}")
        patched = patch_source(fullname, source, self.replacements)
        return compile(patched, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: ModuleType) -> None:
        setattr(module, PATCHED_FLAG, True)
        super().exec_module(module)


class LavaFixFinder(importlib.abc.MetaPathFinder):
    """Finds the modules named in PATCHES through the normal path search and gives them a patching loader."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader) or spec.origin is None:
            raise LavaCompatError(f"{fullname}: not installed as Python source; install lava-nc 0.10.0 "
                                  "(requirements-lava.txt)")
        spec.loader = _PatchedLoader(fullname, spec.origin, PATCHES[fullname])
        return spec


def install() -> None:
    """Put the fixes on ``sys.meta_path`` (first), once. Raises LavaCompatError if a module they fix was already
    imported without them (import this target's modules before anything imports lava)."""
    if any(isinstance(f, LavaFixFinder) for f in sys.meta_path):
        return
    early = [m for m in PATCHES if m in sys.modules and not getattr(sys.modules[m], PATCHED_FLAG, False)]
    if early:
        raise LavaCompatError(f"{', '.join(early)} was imported before snncompile_lava.compat.install(); "
                              "call install() before the first import of lava")
    sys.meta_path.insert(0, LavaFixFinder())
