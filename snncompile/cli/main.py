"""The ``snncompile`` command: one subcommand per module in snncompile.cli.

Every error a user can cause (missing or malformed files, unsupported models, invalid graphs) is printed as one
line ``snncompile: error: ...`` with exit code 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from snncompile import __version__
from snncompile.cli import compile, energy, export, inspect, lower, simulate
from snncompile.errors import SnnError

COMMANDS = {"export": export, "inspect": inspect, "simulate": simulate, "lower": lower, "compile": compile,
            "energy": energy}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snncompile", description="Deployment compiler for trained spiking transformers.")
    p.add_argument("--version", action="version", version=f"snncompile {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return p


def _warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: object = None,
             line: str | None = None) -> None:
    """Warnings as one line each, like errors (no file name or source line of snncompile's own code)."""
    print(f"snncompile: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning
            args.run(args)
    except SnnError as err:
        print(f"snncompile: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("snncompile: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
