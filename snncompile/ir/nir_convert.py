"""IR node <-> NIR node record: the type name, the datasets NIR stores beside it, and snncompile's metadata.

No file I/O here (see ``nir_io``). The mapping is generic over the dataclass fields, so a node class added
later needs no code here:

* **Standard primitives** (``primitive = True``) are written under their NIR name with one dataset per
  field, so stock ``nir.read`` loads them. What NIR cannot say goes into the node's ``metadata/snncompile``
  group, which ``nir.read`` keeps as opaque metadata: the fields in ``META_FIELDS`` (``fire``: ``>`` or
  ``>=``; ``reset``: ``hard`` or ``subtract``; LIF ``form``: the float evaluation order), an Input's value
  ``kind``, and ``shapes/<field>``, the
  original shape of every parameter broadcast on writing (below). Beside the fields, the datasets NIR needs
  to know shapes are added: Input/Output ``shape``, Conv1d/Conv2d ``input_shape`` (L, or (H, W)), Flatten
  ``input_type`` (the per-sample input shape, no batch axis; ``start_dim``/``end_dim`` index that shape, as
  in our Flatten and as sinabs wrote).
* NIR derives the neuron shape of the ``ELEMENTWISE`` nodes from the shape of their parameters and requires
  all parameters of one node to have the same shape, while the IR lets them broadcast (a scalar tau). Their
  array fields are therefore written broadcast to the node's input shape, and reading our own file slices
  them back to the shapes recorded in ``shapes/`` -- the round trip is exact.
* **Extension nodes** (``primitive = False``) are written as ``snncompile.<op>`` with every field a dataset
  (``nir_hdf5.encode``). Stock ``nir.read`` refuses these files (it asserts on unknown types).

Reading decodes each field by its annotation (``int``, ``float``, ``bool``, ``str``, ``tuple[...]``) or, for
fields in ``cls.arrays``, as a float64 array. Fields NIR allows to be absent take NIR's defaults
(``v_reset`` = 0 and ``w_in`` = 1, shaped like ``v_threshold``/``v_leak``); other missing fields take the
dataclass default, or are an error. Conv ``padding`` written as ``"valid"``/``"same"`` (allowed by NIR)
becomes numbers. Foreign float32 parameters become float64 exactly (no rounding to a shorter decimal).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from snncompile.errors import InputFileError, UnsupportedError
from snncompile.ir.nir_hdf5 import encode, text
from snncompile.ir.node import Node
from snncompile.ir.nodes import NEURONS, OPS, Conv1d, Conv2d, Delay, Flatten, Input, Output, Previous, Scale
from snncompile.ir.types import Kind, TensorType

NAMESPACE = "snncompile"
EXT_PREFIX = NAMESPACE + "."
META_FIELDS = ("fire", "reset", "form")
ELEMENTWISE: tuple[type[Node], ...] = (Scale, Delay) + NEURONS
NIR_DEFAULTS = {"v_reset": ("v_threshold", 0.0), "w_in": ("v_leak", 1.0)}  # field: (shaped like, value)


@dataclasses.dataclass
class NirRecord:
    """One NIR node as stored: ``type``, its datasets, and the contents of ``metadata/snncompile``."""

    type: str
    params: dict[str, Any]
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)


def nir_type(cls: type[Node]) -> str:
    return cls.op if cls.primitive else EXT_PREFIX + cls.op


def supported_types() -> list[str]:
    return [nir_type(cls) for cls in OPS.values() if cls is not Previous]


# -- writing ------------------------------------------------------------------------------------------------
def to_record(name: str, node: Node, in_type: TensorType | None) -> NirRecord:
    """The record for ``node``; ``in_type`` is the type on its input port (None for an Input)."""
    cls = type(node)
    if isinstance(node, Input):
        shape = np.array(node.type.shape, np.int64)
        return NirRecord("Input", {"shape": shape}, {"kind": str(node.type.kind)})
    in_shape = np.array(in_type.shape if in_type is not None else (), np.int64)
    if isinstance(node, Output):
        return NirRecord("Output", {"shape": in_shape})
    params: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if value is None:
            continue  # an absent optional array; reading gives the field's default (None) back
        what = f"node '{name}': {node.op}.{f.name}"
        if cls.primitive and f.name in META_FIELDS:
            meta[f.name] = encode(value, what)
            continue
        if isinstance(node, ELEMENTWISE) and f.name in cls.arrays:
            full = np.broadcast_to(value, tuple(in_shape))
            if full.shape != value.shape:
                meta.setdefault("shapes", {})[f.name] = np.array(value.shape, np.int64)
            try:
                value = np.ascontiguousarray(full)
            except MemoryError:
                raise UnsupportedError(f"{what}: NIR stores it broadcast to the input shape {in_shape.tolist()}, "
                                       f"{full.size:,} values, which do not fit in memory") from None
        params[f.name] = encode(value, what)
    if isinstance(node, Flatten):
        params["input_type"] = in_shape
    elif isinstance(node, Conv1d | Conv2d):
        params["input_shape"] = in_shape[1] if isinstance(node, Conv1d) else in_shape[1:]
    return NirRecord(nir_type(cls), params, meta)


# -- reading ------------------------------------------------------------------------------------------------
def node_class(name: str, type_name: str) -> type[Node]:
    """The IR class of a NIR type name; UnsupportedError naming the node, its type and the supported list."""
    op = type_name.removeprefix(EXT_PREFIX)
    cls = OPS.get(op)
    if cls is None or cls is Previous or nir_type(cls) != type_name:  # a Previous node is stored as an edge
        raise UnsupportedError(f"node '{name}' has type '{type_name}', which snncompile cannot read "
                               f"(supported: {', '.join(supported_types())})")
    return cls


def from_record(name: str, rec: NirRecord) -> Node:
    """The IR node for a record. InputFileError (without the file name) when a parameter is missing or
    malformed; UnsupportedError for an unknown type."""
    cls = node_class(name, rec.type)
    kwargs: dict[str, Any] = {}
    if cls is Input:
        shape, kind = _param(name, rec, "shape"), _meta_text(name, rec, "kind", "real")
        try:
            dims = tuple(_integral(s) for s in np.ravel(_real(shape)).tolist())
            if any(d < 0 for d in dims):
                raise ValueError(dims)
            kwargs["type"] = TensorType(dims, Kind(kind))
        except (TypeError, ValueError, OverflowError):
            raise InputFileError(f"node '{name}' (Input): shape {shape!r:.40} or kind {kind!r} is malformed "
                                 "(kinds: binary, graded, real)") from None
    for f in dataclasses.fields(cls):
        if f.name in kwargs:
            continue
        if cls.primitive and f.name in META_FIELDS:
            if f.name in rec.meta:
                kwargs[f.name] = _meta_text(name, rec, f.name, "")
        elif f.name in rec.params:
            kwargs[f.name] = _decode(name, rec, f, cls)
        elif f.name in NIR_DEFAULTS and cls.primitive:
            like, fill = NIR_DEFAULTS[f.name]
            kwargs[f.name] = np.full(np.shape(kwargs.get(like, 0.0)), fill)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InputFileError(f"node '{name}' ({rec.type}) lacks required parameter '{f.name}'")
    if isinstance(kwargs.get("padding"), str):
        kwargs["padding"] = _named_padding(name, rec, kwargs)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise InputFileError(f"node '{name}' ({rec.type}): malformed parameters: {err}") from None


def _param(name: str, rec: NirRecord, key: str) -> Any:
    if key not in rec.params:
        raise InputFileError(f"node '{name}' ({rec.type}) lacks required parameter '{key}'")
    return rec.params[key]


def _meta_text(name: str, rec: NirRecord, key: str, default: str) -> str:
    try:
        return text(rec.meta[key]) if key in rec.meta else default
    except ValueError:
        raise InputFileError(f"node '{name}': metadata {NAMESPACE}/{key} is not a string") from None


def _decode(name: str, rec: NirRecord, f: dataclasses.Field, cls: type[Node]) -> Any:
    """One field from its stored value, by the field's annotation."""
    value = rec.params[f.name]
    ann = (f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))).replace(" ", "")
    ann = ann.removesuffix("|None")
    try:
        if f.name in cls.arrays:
            arr = _real(value).astype(np.float64)
            shapes = rec.meta.get("shapes", {})
            if f.name not in shapes:
                return arr
            return _unbroadcast(arr, tuple(int(s) for s in np.ravel(_real(shapes[f.name]))))
        if ann == "str" or (f.name == "padding" and isinstance(value, bytes | np.bytes_)):  # NIR's "same"
            return text(value)
        if ann.startswith("tuple"):
            return tuple(_integral(v) for v in np.ravel(_real(value)).tolist())
        scalar = np.ravel(_real(value))
        if scalar.size != 1:
            raise ValueError(f"expected one value, found shape {list(np.shape(value))}")
        item = scalar[0].item()
        if ann == "bool":
            return bool(item)
        if ann == "int":
            if float(item) != int(item):
                raise ValueError(f"expected an integer, found {item}")
            return int(item)
        return float(item) if ann == "float" else item
    except (ValueError, TypeError, IndexError, OverflowError) as err:
        raise InputFileError(f"node '{name}' ({rec.type}): parameter '{f.name}' is malformed: {err}") \
            from None


def _real(value: Any) -> np.ndarray:
    """``value`` as an array of real numbers (bool, integer or float); ValueError for strings, complex numbers and
    other kinds, which numpy would parse or truncate silently."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"expected real numbers, found {'strings' if arr.dtype.kind in 'OSU' else arr.dtype}")
    return arr


def _integral(v: float) -> int:
    if v != int(v):
        raise ValueError(f"expected integers, found {v}")
    return int(v)


def _unbroadcast(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo ``np.broadcast_to(x, arr.shape)`` for an ``x`` of ``shape``; ``arr`` itself where its values are not such
    a broadcast (edited after writing)."""
    lead = arr.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"recorded shape {list(shape)} has more axes than the stored {list(arr.shape)}")
    out = arr[(0,) * lead + tuple(slice(0, 1) if s == 1 else slice(None) for s in shape)]
    if out.shape != shape:
        raise ValueError(f"recorded shape {list(shape)} does not broadcast to the stored {list(arr.shape)}")
    if not np.array_equal(np.broadcast_to(out, arr.shape), arr, equal_nan=True):
        return arr  # the values were edited after writing: the stored array, not the recorded shape, is the truth
    return out


def _named_padding(name: str, rec: NirRecord, kwargs: dict[str, Any]) -> Any:
    """NIR's ``padding="valid"|"same"`` as numbers (``same`` as torch defines it: stride 1, symmetric)."""
    mode, weight = kwargs["padding"], np.asarray(kwargs.get("weight", np.zeros((0, 0, 0))))
    dims = weight.shape[2:]
    if mode == "valid":
        pads = tuple(0 for _ in dims)
    else:
        stride = np.broadcast_to(kwargs.get("stride", 1), len(dims))
        dil = np.broadcast_to(kwargs.get("dilation", 1), len(dims))
        span = [int(d) * (k - 1) for d, k in zip(dil, dims, strict=True)]
        if mode != "same" or (stride != 1).any() or any(s % 2 for s in span):
            raise UnsupportedError(f"node '{name}' ({rec.type}): padding {mode!r} is not supported "
                                   "(supported: numbers, 'valid', 'same' with stride 1 and an odd kernel)")
        pads = tuple(s // 2 for s in span)
    return pads[0] if len(pads) == 1 else pads
