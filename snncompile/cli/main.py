"""The snncompile command: one subcommand per module in snncompile.cli.

Every error a user can cause (bad arguments, missing or malformed files, unsupported models, invalid graphs,
unwritable outputs) is printed as one line "snncompile: error: ..." with exit code 2; nothing is left half-written.
Warnings are one line "snncompile: warning: ...". Output cut short by a closed pipe (snncompile inspect m.nir |
head) ends quietly with exit code 141, as a process stopped by SIGPIPE reports to the shell.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from snncompile import __version__
from snncompile.cli import check, compile, energy, export, inspect, lower, simulate, targets
from snncompile.errors import SnnError
from snncompile.passes.registry import QUOTE_HINT

COMMANDS = {"export": export, "inspect": inspect, "simulate": simulate, "lower": lower, "compile": compile,
            "check": check, "energy": energy, "targets": targets}
FORMATTER = argparse.RawDescriptionHelpFormatter
"""Descriptions (the command modules' docstrings) keep their line breaks, so examples stay one per line. Options keep
their defaults None (so that a mode can tell which were given) and say their default in their help text."""
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `yes | head`


class UsageError(Exception):
    """A command line argparse refuses: its message and the (sub)command's name."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse with its errors raised (main prints them as one line) instead of usage text and exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="snncompile", description="Deployment compiler for trained spiking transformers.",
                epilog="Errors: one line on stderr, exit code 2. 'snncompile COMMAND --help' for each command.",
                formatter_class=FORMATTER)
    p.add_argument("--version", action="version", version=f"snncompile {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.__doc__, formatter_class=FORMATTER)
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return p


def _warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: object = None,
             line: str | None = None) -> None:
    """Warnings as one line each, like errors (no file name or source line of snncompile's own code)."""
    print(f"snncompile: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _usage_line(err: UsageError, argv: Sequence[str]) -> str:
    """argparse's complaint as one line, with the brace-expansion hint where ``--passes`` was split by the shell."""
    words = [a.removeprefix("--passes=") for a in argv]
    passes = any(a == "--passes" or a.startswith("--passes=") for a in argv)
    split = any("=" in w and not w.startswith("-") for w in words) and not any("{" in w for w in words)
    about = "unrecognized arguments" in str(err) or "--passes" in str(err)
    hint = QUOTE_HINT if passes and split and about else ""
    prog = err.prog
    command = next((a for a in argv if not a.startswith("-")), None)
    if prog == "snncompile" and command in COMMANDS:  # unrecognized arguments are the top parser's complaint
        prog = f"snncompile {command}"
    return f"snncompile: error: {err}{hint}; see '{prog} --help'"


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit does not fail on the closed pipe too."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured output)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except UsageError as err:
        print(_usage_line(err, argv), file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning
            args.run(args)
            sys.stdout.flush()
    except SnnError as err:
        print(f"snncompile: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _quiet_stdout()
        return BROKEN_PIPE
    except KeyboardInterrupt:
        print("snncompile: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
