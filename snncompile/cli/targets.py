"""List every installed target: its chips, what it accepts, where its output goes, whether its runtime is installed;
and the chips that price energy but no target compiles for yet.

    snncompile targets
    snncompile targets --json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from snncompile import api

HELP = "the installed targets, their chips, the ops they accept"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _runtime(info: api.TargetInfo) -> str:
    if info.runtime is None:
        return "none (it writes files)"
    return f"{info.runtime} ({'installed' if info.runtime_installed else 'not installed'})"


def run(args: argparse.Namespace) -> None:
    infos, energy_only = api.list_targets(), api.energy_only_chips()
    if args.json:
        print(json.dumps({"targets": [asdict(i) for i in infos], "energy_only_chips": energy_only}, indent=1))
        return
    for info in infos:
        chips = ", ".join(f"{c} (default)" if c == info.default_chip else c for c in info.chips) or "none"
        print(f"{info.name}: {info.title}")
        print(f"  chips: {chips}")
        print(f"  writes: {'a file (-o OUT.nir)' if info.output == 'file' else 'a folder (-o DIR)'}")
        print(f"  runtime: {_runtime(info)}")
        print(f"  accepts: {', '.join(info.accepts)}")
    if energy_only:
        print(f"energy-only chips (for 'snncompile energy --chip'; no target compiles for them yet): "
              f"{', '.join(energy_only)}")
