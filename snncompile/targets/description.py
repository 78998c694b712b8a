"""Hardware descriptions: per-operation energy costs, each with what it covers and its source.

A description is a TOML file (the bundled ones live in ``descriptions/``; a user passes a path)::

    name = "my-chip"
    title = "My chip"
    [costs.synop]             # one of KINDS
    pj = 1.2                  # picojoules per operation
    what = "synaptic operation"
    source = "where the figure comes from"

Operation kinds a description may price: ``synop`` (accumulate per synaptic operation), ``mac`` (multiply-accumulate
on a real value), ``neuron_update`` (any neuron update) or ``neuron_update_active`` / ``neuron_update_inactive``
(a neuron with / without input in that step), ``spike`` (one emitted spike or packet). Kinds a description leaves
out are reported as not modelled, never priced at zero silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from snncompile.errors import InputFileError, UnsupportedError
from snncompile.files import read_parsed

KINDS = ("synop", "mac", "neuron_update", "neuron_update_active", "neuron_update_inactive", "spike")
BUNDLED = Path(__file__).parent / "descriptions"


@dataclass(frozen=True)
class Cost:
    pj: float
    what: str
    source: str


@dataclass(frozen=True)
class Description:
    name: str
    title: str
    costs: dict[str, Cost]


def bundled() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.toml"))


def _cost(where: str, kind: str, raw: object) -> Cost:
    if kind not in KINDS:
        raise InputFileError(f"{where}: unknown operation kind '{kind}'; supported: {', '.join(KINDS)}")
    if not isinstance(raw, dict) or not isinstance(raw.get("pj"), int | float) or raw["pj"] < 0:
        raise InputFileError(f"{where}: [costs.{kind}] needs pj = a non-negative number")
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise InputFileError(f"{where}: [costs.{kind}] needs source = where the figure comes from")
    return Cost(float(raw["pj"]), str(raw.get("what", kind)), raw["source"])


def load_description(spec: str) -> Description:
    """A bundled description by name (see ``bundled()``) or a TOML file by path."""
    path = BUNDLED / f"{spec}.toml" if spec in bundled() else Path(spec)
    if path.suffix != ".toml":
        raise UnsupportedError(f"target '{spec}': expected one of {', '.join(bundled())} or a .toml description")
    raw = read_parsed(path, tomllib.loads, "a TOML file", (tomllib.TOMLDecodeError,))
    if not isinstance(raw.get("name"), str) or not isinstance(raw.get("costs"), dict) or not raw["costs"]:
        raise InputFileError(f"{path}: a description needs name = \"...\" and at least one [costs.KIND] table")
    costs = {kind: _cost(str(path), kind, value) for kind, value in raw["costs"].items()}
    return Description(raw["name"], str(raw.get("title", raw["name"])), costs)
