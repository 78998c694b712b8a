"""Writing output files atomically: a temporary file in the same folder, then ``os.replace``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from snncompile.errors import OutputFileError, one_line


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
