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
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        return parse(path.read_text())
    except (*errors, UnicodeDecodeError) as err:
        raise InputFileError(f"{path}: not {what} ({err})") from None


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``; on any error nothing is left behind and an existing file is untouched."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as err:
        raise OutputFileError(f"{target}: cannot write ({one_line(err)})") from None
    finally:
        tmp.unlink(missing_ok=True)
