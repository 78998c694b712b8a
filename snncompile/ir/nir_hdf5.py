"""Low-level HDF5 for NIR files: deterministic writing and plain-value reading, with no knowledge of nodes.

Byte-identical output for identical input needs three things h5py does not do by default: no modification
times in object headers (``track_times=False`` for datasets; groups are created through the low-level API
because ``create_group`` cannot switch the times off), a fixed file-format range (``LIBVER``), and a fixed
creation order (the callers iterate in graph order). Arrays of ``COMPRESS_FROM`` elements or more are
gzip-compressed, as ``nir.write`` does; gzip is a standard HDF5 filter every HDF5 reader has.

Values are stored the way ``nir.write`` stores them: strings as variable-length UTF-8 scalars, numbers as
0-d datasets, arrays with their own dtype.

``load`` refuses a dataset whose header claims more bytes than the file could hold before anything is allocated
(a damaged header); ``nir_guard`` keeps the HDF5 library's own hangs and crashes on damaged files out of the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import h5py
import numpy as np

from snncompile.errors import UnsupportedError

LIBVER = ("earliest", "v110")  # readable by HDF5 >= 1.10 (every h5py 3)
COMPRESS_FROM = 1024
MAX_EXPANSION = 1100  # gzip expands data at most ~1030-fold: a larger claim is a damaged header


def group(parent: h5py.Group, name: str) -> h5py.Group:
    """A new subgroup whose object header holds no timestamp."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)
    lcpl.set_char_encoding(h5py.h5t.CSET_UTF8)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), lcpl=lcpl, gcpl=gcpl))


def encode(value: Any, what: str) -> str | np.ndarray | np.generic:
    """``value`` as something h5py stores losslessly; UnsupportedError naming ``what`` otherwise.

    bool -> numpy bool (an HDF5 enum), int -> int64, float -> float64, str (and str enums) -> str,
    tuples and lists of numbers -> arrays, arrays -> themselves (numeric dtypes only)."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return np.bool_(value)
    if isinstance(value, int | np.integer):
        return np.int64(value)
    if isinstance(value, float | np.floating):
        return np.float64(value)
    if isinstance(value, tuple | list) and not value:
        return np.zeros(0, np.int64)
    if isinstance(value, tuple | list | np.ndarray):
        try:
            arr = np.asarray(value)
        except ValueError:
            arr = np.asarray([None])
        if arr.dtype.kind in "biuf":
            return arr
    raise UnsupportedError(f"{what} holds {type(value).__name__} {value!r:.60}, which cannot be written "
                           "to NIR")


def dataset(parent: h5py.Group, name: str, value: Any) -> None:
    """Write one value (already ``encode``-d, or a string array) as a dataset without a timestamp."""
    if isinstance(value, str):
        parent.create_dataset(name, data=value, dtype=h5py.string_dtype(), track_times=False)
        return
    arr = np.asarray(value)
    if arr.dtype.kind in "OU":
        parent.create_dataset(name, data=arr.astype(object), dtype=h5py.string_dtype(), track_times=False)
        return
    opts: dict[str, Any] = {"compression": "gzip", "compression_opts": 4} if arr.size >= COMPRESS_FROM else {}
    parent.create_dataset(name, data=arr, track_times=False, **opts)


def write_tree(parent: h5py.Group, tree: Mapping[str, Any], what: str) -> None:
    """Nested mappings become groups, sequences of strings string arrays, everything else ``encode``-d
    datasets (NIR's metadata layout)."""
    for key, value in tree.items():
        check_name(key, f"{what}: key")
        if isinstance(value, Mapping):
            write_tree(group(parent, key), value, f"{what}/{key}")
        elif isinstance(value, tuple | list) and value and all(isinstance(v, str) for v in value):
            dataset(parent, key, np.array(value, dtype=object))
        elif isinstance(value, np.ndarray) and value.dtype.kind in "OU":
            dataset(parent, key, value)
        else:
            dataset(parent, key, encode(value, f"{what}/{key}"))


def check_name(name: str, what: str) -> None:
    """HDF5 link names cannot be empty, '.', or contain '/'."""
    if not isinstance(name, str) or name in ("", ".") or "/" in name:
        raise UnsupportedError(f"{what} {name!r} cannot be written to NIR: HDF5 names cannot be empty, '.' "
                               "or contain '/'")


def text(value: Any) -> str:
    """A stored string (h5py returns bytes for variable-length and fixed-length strings alike)."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return text(value[()])
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string, found {type(value).__name__}")


def plain(value: Any) -> Any:
    """A stored value as plain Python: strings as str, numbers as int/float/bool, string arrays as tuples of
    str, numeric arrays as read-only numpy arrays."""
    if isinstance(value, bytes | np.bytes_ | str):
        return text(value)
    if isinstance(value, np.generic):
        return value.item()
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        return tuple(text(v) for v in arr.ravel())
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def read_tree(node: h5py.Group) -> dict[str, Any]:
    """A group as nested dicts of ``plain`` values."""
    return {key: read_tree(item) if isinstance(item, h5py.Group) else plain(load(item))
            for key, item in node.items()}


def load(ds: h5py.Dataset) -> Any:
    """A dataset's value (``ds[()]``); ValueError, before allocating, when its header claims more bytes than its
    file could hold even compressed."""
    need = int(np.prod(ds.shape, dtype=object)) * ds.dtype.itemsize if ds.shape is not None else 0
    if need > MAX_EXPANSION << 20 and need > MAX_EXPANSION * ds.file.id.get_filesize():
        raise ValueError(f"dataset {ds.name} claims shape {list(ds.shape)} ({need:.3g} bytes), more than the "
                         "file can hold")
    return ds[()]

