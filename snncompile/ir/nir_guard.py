"""Reading HDF5 files that may be damaged, without the HDF5 library's hangs and crashes reaching this process.

A damaged file can make the HDF5 C library loop forever or crash (a corrupted object size in a global heap, the
place variable-length strings live, makes HDF5 2.0 loop while decoding a string; found by bench/fuzz_nir.py), and
no Python code can catch either: the loop holds the interpreter, the crash kills it. ``read_file(path, read)``
therefore runs ``read`` on the file in a helper process first, a fork of this process kept for the next file: a
helper that does not answer in time (``READ_SECONDS``) or dies is reported as ``InputFileError`` (and replaced on
the next call); only when the helper's read returned or raised an ordinary exception does this process read the
file itself, through the same ``read``, so that the same HDF5 calls run on the same bytes. The price is reading each
file twice. Where ``fork`` is missing (Windows) files are read directly.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import pickle
import select
import signal
import struct
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import h5py

from snncompile.errors import InputFileError

T = TypeVar("T")
READ_SECONDS = (10.0, 2.0**-20)  # the helper may take 10 s + 1 s per MiB of file before it counts as hanging
_LOCK = threading.Lock()
_helper: tuple[int, int, int, int] | None = None  # owner pid, helper pid, request pipe (write end), answer pipe


def read_file(path: str, read: Callable[[h5py.File], T]) -> T:
    """``read(h5py.File(path))``, after the same read finished in the helper process (where ``fork`` exists).
    InputFileError when the helper ran past its time or was killed by a signal: HDF5 hangs or crashes on this file.
    ``read`` must be a module-level function: it is sent to the helper by name."""
    if hasattr(os, "fork"):
        with _LOCK:
            _trial(path, read, READ_SECONDS[0] + os.path.getsize(path) * READ_SECONDS[1])
    with h5py.File(path, "r") as f:
        return read(f)


def _trial(path: str, read: Callable[[h5py.File], Any], seconds: float) -> None:
    global _helper
    if _helper is None or _helper[0] != os.getpid():  # none yet, or inherited from the process this one forked from
        _helper = (os.getpid(), *_start())
    _, pid, request, answer = _helper
    message = pickle.dumps((path, read))
    try:
        os.write(request, struct.pack("<Q", len(message)) + message)
        ready, _, _ = select.select([answer], [], [], seconds)
        if ready and os.read(answer, 1):
            return
    except BaseException:  # interrupted mid-request (an alarm, Ctrl-C): the helper's next answer would be stale
        _stop(pid, request, answer)
        raise
    status = _stop(pid, request, answer)
    if not ready:
        raise InputFileError(f"damaged HDF5 file: reading it did not finish in {seconds:.0f} s (the HDF5 library "
                             "loops on it)")
    number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    what = f"{signal.strsignal(number) or f'signal {number}'}" if number else f"exit {os.WEXITSTATUS(status)}"
    raise InputFileError(f"damaged HDF5 file: the HDF5 library crashed reading it ({what})")


def _stop(pid: int, request: int, answer: int) -> int:
    """End the helper (killing it if it still runs); its wait status."""
    global _helper
    _helper = None
    os.close(request)
    os.close(answer)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _start() -> tuple[int, int, int]:
    """Fork the helper: it reads (path, read) requests and answers one byte each, until its request pipe closes."""
    requests, request = os.pipe()
    answer, answers = os.pipe()
    pid = os.fork()
    if pid:
        os.close(requests)
        os.close(answers)
        return pid, request, answer
    try:  # the helper: silent, deaf to Ctrl-C (it ends with its parent), leaves without the parent's exit handlers
        os.close(request)
        os.close(answer)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        faulthandler.disable()
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        while head := _read_exactly(requests, 8):
            path, read = pickle.loads(_read_exactly(requests, struct.unpack("<Q", head)[0]))
            # an ordinary error is the caller's to report: its own read raises it again
            with contextlib.suppress(Exception), h5py.File(path, "r") as f:
                read(f)
            os.write(answers, b"1")
    finally:
        os._exit(0)


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data
