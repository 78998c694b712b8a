"""The demo `make demo` runs: compile a bundled trained model and show what came out.

    make demo                          # the Spikformer
    make demo MODEL=qkformer_digits    # any checkpoint in examples/: spikformer_digits, fwformer_digits, ...

Steps, each a command a user would type:
    snncompile export examples/<model>.pt -o out/<model>.nir
    snncompile inspect out/<model>.nir
    snncompile simulate out/<model>.nir --data digits
    snncompile energy out/<model>.nir --data digits --html out/<model>-energy.html --json out/<model>-energy.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snncompile.cli.main import main

HERE = Path(__file__).resolve().parent
MODELS = sorted(p.stem for p in HERE.glob("*_digits.pt"))


def demo(model: str, out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    nir_file = str(out_dir / f"{model}.nir")
    steps = [
        ["export", str(HERE / f"{model}.pt"), "-o", nir_file],
        ["inspect", nir_file],
        ["simulate", nir_file, "--data", "digits"],
        ["energy", nir_file, "--data", "digits", "--html", str(out_dir / f"{model}-energy.html"),
         "--json", str(out_dir / f"{model}-energy.json")],
    ]
    for argv in steps:
        print(f"\n$ snncompile {' '.join(argv)}", flush=True)
        code = main(argv)
        if code:
            return code
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Compile a bundled trained model and show the result.")
    parser.add_argument("--model", default="spikformer_digits", choices=MODELS)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args()
    sys.exit(demo(args.model, args.out))
