"""Named data sets and user files for ``snncompile simulate --data``.

A ``FILE.npz`` holds ``x``: static samples ``[N, *shape]`` (fed at every step) or time-varying samples
``[N, T, *shape]`` (event frames, spike trains), and optionally ``y``: integer labels ``[N]`` (without them there is
no accuracy, only activity).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from snncompile.errors import InputFileError, UnsupportedError, one_line
from snncompile.files import check_input

NAMES = ("digits",)


def load_dataset(spec: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``digits``: the test split of scikit-learn's 8x8 digits (snncompile.nn.data); ``FILE.npz``: array x and
    optional labels y (None when absent)."""
    if spec == "digits":
        from snncompile.nn.data import load_digits_split

        _, _, x_test, y_test = load_digits_split()
        return x_test.numpy(), y_test.numpy()
    path = Path(spec)
    if path.suffix != ".npz" and not path.is_dir():
        raise UnsupportedError(f"--data '{spec}': expected one of {', '.join(NAMES)} or a .npz file with array x "
                               "(and optional labels y)")
    check_input(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            x = data["x"]
            y = data["y"] if "y" in data.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise InputFileError(f"{path}: not an .npz file with an array 'x' ({one_line(err)})") from None
    if x.ndim < 2 or not any(np.issubdtype(x.dtype, k) for k in (np.integer, np.floating, np.bool_)):
        raise InputFileError(f"{path}: x must be a numeric array [N, *shape] or [N, T, *shape], got {x.dtype} "
                             f"{list(x.shape)}")
    if y is not None and (y.ndim != 1 or len(y) != len(x)):
        raise InputFileError(f"{path}: y must hold one label per sample ({len(x)}), got shape {list(y.shape)}")
    return x, y
