"""Reading user text files with one-line errors; writing output files atomically (a temporary file in the same
folder, then ``os.replace``)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from snncompile.errors import InputFileError, OutputFileError, one_line

T = TypeVar("T")


def read_parsed(path: str | os.PathLike[str], parse: Callable[[str], T], what: str,
                errors: tuple[type[Exception], ...]) -> T:
    """``parse`` of the text in ``path``; a missing file or one that ``parse`` rejects is one InputFileError line."""
    path = check_input(path)
    caught: tuple[type[Exception], ...] = (*errors, UnicodeDecodeError)
    try:
        return parse(path.read_text())
    except caught as err:
        raise InputFileError(f"{path}: not {what} ({err})") from None


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``; on any error nothing is left behind and an existing file is untouched."""
    target = check_output(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else one_line(err)
        raise OutputFileError(f"{target}: cannot write: {reason}") from None
    finally:
        tmp.unlink(missing_ok=True)


def check_input(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if it names an existing file; else one InputFileError line saying what it names."""
    where = os.fspath(path)
    if not where:
        raise InputFileError("an input file name is empty")
    if os.path.isdir(where):
        raise InputFileError(f"{where}: is a folder, not a file")
    if not os.path.isfile(where):
        raise InputFileError(f"{where}: no such file")
    return Path(where)


def check_output(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if a file can be created there (its folder exists and is writable, it is not a folder);
    else one OutputFileError line naming the path and the reason. Writers call it before writing anything, and the
    CLI before the work whose result it writes."""
    where = os.fspath(path)
    if not where:
        raise OutputFileError("an output file name is empty")
    target = Path(where)
    folder = target.parent
    if target.is_dir():
        raise OutputFileError(f"{where}: cannot write: it is a folder; give a file name")
    if not folder.exists():
        raise OutputFileError(f"{where}: cannot write: folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputFileError(f"{where}: cannot write: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputFileError(f"{where}: cannot write: no permission to create files in folder {folder}")
    return target
