"""Mutated NIR files through inspect, simulate and compile: success or the one-line error, nothing else.

The cases come from bench/fuzz_nir.py (which runs more of them and prints a table, docs/fuzzing.md); the other
tests pin each crash the fuzzer found to its fix.
"""

from __future__ import annotations

import os
import signal
import struct
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from snncompile.errors import InputFileError, IRError, UnsupportedError
from snncompile.ir import Edge, Graph, TensorType, nir_guard
from snncompile.ir import nodes as n
from snncompile.ir.nir_io import read_nir, write_nir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fuzz_nir  # noqa: E402 - a script folder, not a package

# Three rounds of every mutation kind on every seed file, the slow tiny Spikformer (0.7 s a case) in the first only:
# 209 cases, about 20 s of CPU.
CASES = [i for i in range(3 * len(fuzz_nir.SEEDS) * len(fuzz_nir.KINDS))
         if fuzz_nir.plan(i)[0] != "spikformer_tiny" or i < len(fuzz_nir.SEEDS) * len(fuzz_nir.KINDS)]


def test_mutated_files_succeed_or_fail_in_one_line():
    results = fuzz_nir.run_cases(CASES, master=0, limit=15.0, read_seconds=2.0)
    assert len(results) == len(CASES) == 209
    verdicts = {o.verdict for r in results for o in r.outcomes}
    assert verdicts <= {"ok", "error"}, "failing cases (rerun one: python bench/fuzz_nir.py --only ID):\n" + \
        "\n".join(fuzz_nir.failures(results))
    assert verdicts == {"ok", "error"}  # the mutations neither all break nor all miss the files


def _lif_graph(shape: tuple[int, ...] = (3,), tau: float = 2.0) -> Graph:
    nodes = {"input": n.Input(type=TensorType(shape)), "lif": n.LIF(tau=tau, r=1.0, v_leak=0.0, v_threshold=1.0,
                                                                     v_reset=0.0), "output": n.Output()}
    return Graph(nodes, [Edge("input", "lif"), Edge("lif", "output")], dt=1.0)


def test_hdf5_looping_on_a_damaged_heap_is_an_error(tmp_path, monkeypatch):
    """Found by the fuzzer (a flipped byte): HDF5 2.0 loops forever reading a string whose global-heap object size
    is corrupted. The reader's trial read in a child process times out instead."""
    path = tmp_path / "m.nir"
    write_nir(_lif_graph(), path)
    raw = bytearray(path.read_bytes())
    heap = raw.find(b"GCOL")  # the global heap collection holding the variable-length strings
    struct.pack_into("<Q", raw, heap + 16 + 8, 0)  # its first object's size
    path.write_bytes(raw)
    monkeypatch.setattr(nir_guard, "READ_SECONDS", (1.0, 0.0))
    start = time.monotonic()
    with pytest.raises(InputFileError, match=f"^{path}: "):
        read_nir(path)
    assert time.monotonic() - start < 30


def _crash(f: h5py.File) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _names(f: h5py.File) -> list[str]:
    return sorted(f["node/nodes"])


def test_hdf5_crash_in_the_trial_read_is_an_error(tmp_path):
    path = tmp_path / "m.nir"
    write_nir(_lif_graph(), path)
    with pytest.raises(InputFileError, match="the HDF5 library crashed reading it .*Segmentation fault"):
        nir_guard.read_file(str(path), _crash)
    assert nir_guard.read_file(str(path), _names) == ["input", "lif", "output"]  # a new helper


def test_dataset_claiming_more_than_its_file_is_refused_before_allocating(tmp_path):
    path = tmp_path / "m.nir"
    write_nir(_lif_graph(), path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/lif/tau"]
        f.create_dataset("node/nodes/lif/tau", shape=(10**6, 10**6), dtype=np.float64)  # no data stored
    with pytest.raises(InputFileError, match=r"node 'lif': cannot read it: .*claims shape \[1000000, 1000000\]"):
        read_nir(path)


def test_parameters_too_large_to_broadcast_for_nir_are_refused(tmp_path):
    """Found by the fuzzer (an Input shape times 10**6): writing broadcasts neuron parameters to the input shape,
    a MemoryError escaped. Now a one-line UnsupportedError, and no file."""
    graph = _lif_graph((1, 8 * 10**6, 8 * 10**6))
    with pytest.raises(UnsupportedError, match=r"node 'lif': LIF.tau: .*\[1, 8000000, 8000000\].*do not fit"):
        write_nir(graph, tmp_path / "m.nir")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tau", [0.0, -2.0])
def test_time_constants_must_be_positive(tmp_path, tau):
    with pytest.raises(IRError, match=f"node 'lif': tau must be positive .*got {tau:g}"):
        _lif_graph(tau=tau).types  # noqa: B018 - type inference checks the node
    path = tmp_path / "m.nir"
    write_nir(_lif_graph(), path)
    with h5py.File(path, "r+") as f:
        f["node/nodes/lif/tau"][...] = tau
    with pytest.raises(IRError, match=f"tau must be positive .* \\(after reading {path}\\)"):
        read_nir(path)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("lif/v_threshold", np.array(["1.0", "1.0", "1.0"], dtype=object), "expected real numbers, found strings"),
    ("lif/v_threshold", np.ones(3) + 1j, "expected real numbers, found complex128"),
    ("input/shape", np.array([np.inf]), "shape .* is malformed"),
    ("input/shape", np.array([-3]), "shape .* is malformed"),
])
def test_values_of_the_wrong_kind_are_refused(tmp_path, field, value, message):
    """Found by the fuzzer: numpy parsed strings as numbers and dropped imaginary parts with only a warning."""
    path = tmp_path / "m.nir"
    write_nir(_lif_graph(), path)
    with h5py.File(path, "r+") as f:
        del f[f"node/nodes/{field}"]
        f.create_dataset(f"node/nodes/{field}", data=value,
                         dtype=h5py.string_dtype() if value.dtype == object else None)
    with pytest.raises(InputFileError, match=message):
        read_nir(path)


@pytest.mark.parametrize(("value", "message"), [
    (np.array([1.5, 1.0]), "expected integers, found 1.5"),
    (np.array([np.nan, 1.0]), "parameter 'stride' is malformed"),
    (np.array([b"1", b"1"], dtype=object), "expected real numbers, found strings"),
])
def test_integer_tuples_must_be_integers(tmp_path, value, message):
    nodes = {"input": n.Input(type=TensorType((1, 4, 4))), "pool": n.SumPool2d(kernel_size=(2, 2), stride=(2, 2),
                                                                                 padding=(0, 0)), "output": n.Output()}
    path = tmp_path / "m.nir"
    write_nir(Graph(nodes, [Edge("input", "pool"), Edge("pool", "output")], dt=1.0), path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/pool/stride"]
        f.create_dataset("node/nodes/pool/stride", data=value,
                         dtype=h5py.string_dtype() if value.dtype == object else None)
    with pytest.raises(InputFileError, match=message):
        read_nir(path)


def test_a_broadcast_parameter_edited_after_writing_is_read_as_stored(tmp_path):
    """Found by the fuzzer (one element of a broadcast tau set to 0): the reader sliced the recorded scalar back out
    of the first element and dropped the edit."""
    path = tmp_path / "m.nir"
    write_nir(_lif_graph(), path)  # tau = 2.0 stored as [2, 2, 2], shapes/tau = []
    with h5py.File(path, "r+") as f:
        f["node/nodes/lif/v_threshold"][2] = 3.0
    assert read_nir(path).nodes["lif"].v_threshold.tolist() == [1.0, 1.0, 3.0]
    assert read_nir(tmp_path / "m.nir").nodes["lif"].tau.shape == ()  # untouched parameters keep their shape
