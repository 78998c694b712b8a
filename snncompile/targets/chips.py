"""Chip descriptions: what a chip's cores hold, how precisely it computes, what an operation costs; every figure
with its source.

A chip is a TOML file. A target plugin keeps its chips in its package's ``chips/`` folder (``--target lava --chip
loihi2``); chips that price energy but have no target yet live in ``snncompile/targets/descriptions/`` (the
SpiNNaker ones: their target comes later); a user passes a file path. Every table is optional::

    name = "my-loihi"
    title = "Loihi 2 with a smaller core"
    target = "lava"                      # optional in a user's file: the target it is a variant of

    [resources.neurons_per_core]         # one of RESOURCES; a limit left out is not checked
    value = 4096
    source = "where the figure comes from"

    [precision.weight_bits]              # one of PRECISIONS
    value = 8
    source = "..."

    [costs.synop]                        # energy per operation: snncompile.targets.description
    pj = 23.6
    source = "..."

The core mapper (``snncompile.targets.mapping``) reads ``resources``; a target's pipeline reads ``precision``
(e.g. whether the chip takes graded spikes); ``snncompile energy`` reads ``costs``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from snncompile.errors import InputFileError, UnsupportedError
from snncompile.files import read_parsed
from snncompile.targets.description import Description, parse_costs

RESOURCES: Mapping[str, str] = {
    "neurons_per_core": "neurons (compartments) a core holds",
    "synaptic_memory_bits_per_core": "bits of synaptic memory a core holds",
    "fan_in_axons_per_core": "input axons a core has (one per distinct presynaptic neuron)",
    "fan_out_axons_per_core": "output axons a core has (one per neuron and destination core)",
    "cores_per_chip": "neuron cores a chip has",
}
PRECISIONS: Mapping[str, tuple[type, str]] = {
    "weight_bits": (int, "bits of a synaptic weight (also what a synapse occupies in synaptic memory)"),
    "decay_bits": (int, "bits of the current and voltage decay constants"),
    "threshold_bits": (int, "bits of the threshold mantissa"),
    "graded_spikes": (bool, "whether a spike can carry an integer payload"),
    "payload_bits": (int, "bits of a graded spike's payload"),
}
ENERGY_ONLY = Path(__file__).parent / "descriptions"
"""Chips with energy costs and no target yet."""


@dataclass(frozen=True)
class Figure:
    value: int | bool
    what: str
    source: str


@dataclass(frozen=True)
class Chip:
    name: str
    title: str
    target: str | None  # None: an energy-only chip, or a user's file that names no target
    where: str  # the file it was read from
    resources: Mapping[str, Figure]
    precision: Mapping[str, Figure]
    energy: Description | None

    def limit(self, key: str) -> int | None:
        """A resource limit, or None when the description leaves it out (then it is not checked)."""
        figure = self.resources.get(key)
        return None if figure is None else int(figure.value)


def chip_files() -> dict[str, tuple[str | None, Path]]:
    """Every known chip: name -> (its target or None, its file), sorted by name."""
    from snncompile.targets.plugins import chip_folders

    files: dict[str, tuple[str | None, Path]] = {p.stem: (None, p) for p in ENERGY_ONLY.glob("*.toml")}
    for target, folder in chip_folders().items():
        for path in sorted(folder.glob("*.toml")):
            if path.stem in files:
                raise InputFileError(f"chip '{path.stem}' is described twice: {files[path.stem][1]} and {path}")
            files[path.stem] = (target, path)
    return dict(sorted(files.items()))


def chip_names(target: str | None = None) -> list[str]:
    """Known chips, sorted; with ``target``, only that target's."""
    return [name for name, (owner, _) in chip_files().items() if target is None or owner == target]


def _value(raw: object, kind: type) -> int | bool | None:
    """``raw`` if it is a bool (for kind bool) or a positive integer (for kind int), else None."""
    if isinstance(raw, bool):
        return raw if kind is bool else None
    return raw if kind is int and isinstance(raw, int) and raw >= 1 else None


def _figures(where: str, table: str, raw: object, kinds: Mapping[str, type]) -> dict[str, Figure]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputFileError(f"{where}: [{table}] must be a table of [{table}.KEY] tables")
    out = {}
    for key, value in raw.items():
        if key not in kinds:
            raise InputFileError(f"{where}: unknown [{table}.{key}]; supported: {', '.join(kinds)}")
        number = _value(value.get("value") if isinstance(value, dict) else None, kinds[key])
        if number is None:
            wanted = "true or false" if kinds[key] is bool else "a positive integer"
            raise InputFileError(f"{where}: [{table}.{key}] needs value = {wanted}")
        if not isinstance(value.get("source"), str) or not value["source"].strip():
            raise InputFileError(f"{where}: [{table}.{key}] needs source = where the figure comes from")
        out[key] = Figure(number, str(value.get("what", key)), value["source"])
    return out


def _read(path: Path, owner: str | None) -> Chip:
    where = str(path)
    raw = read_parsed(path, tomllib.loads, "a TOML file", (tomllib.TOMLDecodeError,))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputFileError(f"{where}: a chip description needs name = \"...\"")
    declared = raw.get("target")
    if declared is not None and (not isinstance(declared, str) or (owner is not None and declared != owner)):
        raise InputFileError(f"{where}: target = {declared!r} does not match the plugin it lies in ({owner})")
    title = str(raw.get("title", name))
    resources = _figures(where, "resources", raw.get("resources"), dict.fromkeys(RESOURCES, int))
    precision = _figures(where, "precision", raw.get("precision"), {k: t for k, (t, _) in PRECISIONS.items()})
    energy = parse_costs(where, name, title, raw.get("costs"))
    if not (resources or precision or energy):
        raise InputFileError(f"{where}: a chip description needs at least one [resources.*], [precision.*] or "
                             "[costs.*] table")
    return Chip(name, title, owner or declared, where, resources, precision, energy)


def load_chip(spec: str, target: str | None = None) -> Chip:
    """A known chip by name or a chip TOML file by path; with ``target``, refuse a chip of another target."""
    files = chip_files()
    if spec in files:
        chip = _read(files[spec][1], files[spec][0])
    elif spec.endswith(".toml"):
        chip = _read(Path(spec), None)
    else:
        known = files if target is None else chip_names(target)
        whose = "" if target is None else f"the {target} target's chips: "
        raise UnsupportedError(f"chip '{spec}': expected {whose}{', '.join(known) or 'none'} or a .toml description")
    if target is not None and chip.target not in (None, target):
        raise UnsupportedError(f"chip '{spec}' belongs to the {chip.target} target, not {target} "
                               f"(the {target} target's chips: {', '.join(chip_names(target)) or 'none'})")
    if target is not None and chip.target is None and spec in files:
        raise UnsupportedError(f"chip '{spec}' is an energy-only description (no target compiles for it yet); "
                               f"the {target} target's chips: {', '.join(chip_names(target)) or 'none'}")
    return chip
