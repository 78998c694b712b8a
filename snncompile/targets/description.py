"""Energy descriptions: per-operation energy costs, each with what it covers and its source.

Costs are the ``[costs.KIND]`` tables of a chip description (``snncompile.targets.chips``: a target plugin's
``chips/*.toml``, the energy-only chips in ``descriptions/``, or a user's file)::

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

from dataclasses import dataclass

from snncompile.errors import InputFileError

KINDS = ("synop", "mac", "neuron_update", "neuron_update_active", "neuron_update_inactive", "spike")


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


def _cost(where: str, kind: str, raw: object) -> Cost:
    if kind not in KINDS:
        raise InputFileError(f"{where}: unknown operation kind '{kind}'; supported: {', '.join(KINDS)}")
    if not isinstance(raw, dict) or not isinstance(raw.get("pj"), int | float) or raw["pj"] < 0:
        raise InputFileError(f"{where}: [costs.{kind}] needs pj = a non-negative number")
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise InputFileError(f"{where}: [costs.{kind}] needs source = where the figure comes from")
    return Cost(float(raw["pj"]), str(raw.get("what", kind)), raw["source"])


def parse_costs(where: str, name: str, title: str, raw: object) -> Description | None:
    """The ``[costs]`` table of a chip file as a Description; None when the file has none."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise InputFileError(f"{where}: [costs] needs at least one [costs.KIND] table; kinds: {', '.join(KINDS)}")
    return Description(name, title, {kind: _cost(where, kind, value) for kind, value in raw.items()})


def bundled() -> list[str]:
    """Every known chip that prices operations (the targets' chips and the energy-only ones), sorted."""
    from snncompile.targets.chips import chip_names, load_chip

    return [name for name in chip_names() if load_chip(name).energy is not None]


def load_description(spec: str) -> Description:
    """The energy costs of a known chip by name (see ``bundled()``) or of a chip TOML file by path."""
    from snncompile.targets.chips import load_chip

    chip = load_chip(spec)
    if chip.energy is None:
        raise InputFileError(f"{chip.where}: chip '{chip.name}' prices no operation: energy needs at least one "
                             f"[costs.KIND] table; kinds: {', '.join(KINDS)}")
    return chip.energy
