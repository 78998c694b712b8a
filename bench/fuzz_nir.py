"""Fuzzing the NIR reader and the commands on it: mutated real NIR files through inspect, simulate and compile.

    .venv/bin/python bench/fuzz_nir.py [--cases 1200] [--seed 0] [--only ID ...] [--keep DIR] [--limit S]

Every case copies one seed file, mutates the copy (structurally with h5py, or byte by byte) and runs, in this
process, ``snncompile inspect F``, ``snncompile simulate F --data small.npz -T 2`` and ``snncompile compile F
--target cpu -o out.nir`` (``--dt 1e-4`` for files of other tools, which store none). The only allowed outcomes
are success (exit 0) and the one-line error (exit 2, one stderr line ``snncompile: error: ...``, no traceback);
anything else is a FAILURE: an exception escaping ``main``, another exit code, several error lines, traceback
text, a run over the time limit, or a file left behind by a command that failed (the output or a temporary
file). Cases are deterministic: case ``i`` of master seed ``s`` mutates seed file ``i // len(KINDS) %
len(SEEDS)`` with mutation kind ``KINDS[i % len(KINDS)]`` and a generator seeded with ``(s, i)``; its id
``s-i`` reproduces it (``--only s-i --keep DIR`` keeps the mutated file). tests/test_fuzz_nir.py runs a few
hundred cases of this module; docs/fuzzing.md has the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import faulthandler
import io
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from fuzz_mutations import DT, KINDS, SEEDS, Seed, make_seeds, mutate

from snncompile.cli.main import main as cli_main
from snncompile.cli.main import parser as cli_parser
from snncompile.ir import nir_guard

COMMANDS = ("inspect", "simulate", "compile")
MEMORY_HEADROOM = 4 << 30  # address space a case may add to the process (bytes); beyond it allocations fail


@dataclasses.dataclass
class Outcome:
    command: str
    verdict: str  # "ok", "error" or "FAILURE"
    message: str


@dataclasses.dataclass
class CaseResult:
    id: str
    seed: str
    kind: str
    mutation: str
    outcomes: list[Outcome]

    @property
    def failed(self) -> bool:
        return any(o.verdict == "FAILURE" for o in self.outcomes)


# -- running ------------------------------------------------------------------------------------------------
class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout


def _dt_everywhere() -> bool:
    """Whether ``compile`` takes ``--dt`` (being added to the CLI)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            cli_parser().parse_args(["compile", "x", "--target", "cpu", "-o", "y", "--dt", "1"])
    except (SystemExit, Exception):  # argparse exits, or raises the CLI's usage error
        return False
    return True


def argv_for(command: str, seed: Seed, file: Path, out: Path, compile_dt: bool) -> list[str]:
    dt = ["--dt", DT] if seed.foreign else []
    if command == "inspect":
        return ["inspect", str(file), *dt]
    if command == "simulate":
        return ["simulate", str(file), *dt, "--data", str(seed.data), "-T", "2"]
    return ["compile", str(file), *(dt if compile_dt else []), "--target", "cpu", "-o", str(out)]


def run_command(argv: list[str], limit: float) -> tuple[str, str]:
    """(verdict, message) of one CLI run in this process."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    # A hang inside C code (HDF5, numpy) does not return to Python to see the alarm: dump the stack and stop.
    faulthandler.dump_traceback_later(2 * limit + 5, exit=True, file=sys.__stderr__)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(argv)
    except _Timeout:
        return "FAILURE", f"still running after {limit:g} s"
    except BaseException as exc:  # noqa: BLE001 - anything escaping main is the failure being looked for
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return "FAILURE", f"{type(exc).__name__} escaped main: {exc!s:.200} ({where.filename}:{where.lineno})"
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    lines = [ln for ln in err.getvalue().splitlines() if not ln.startswith("snncompile: warning: ")]
    text = err.getvalue() + out.getvalue()
    if "Traceback" in text:
        return "FAILURE", f"traceback in the output (exit {code})"
    if code == 0:
        return ("ok", "") if not lines else ("FAILURE", f"exit 0 with stderr {lines[0]!r:.200}")
    if code != 2:
        return "FAILURE", f"exit {code}: {err.getvalue()!r:.200}"
    if len(lines) != 1 or not lines[0].startswith("snncompile: error: "):
        return "FAILURE", f"exit 2 but stderr is not one error line: {lines!r:.300}"
    return "error", lines[0].removeprefix("snncompile: error: ")


def plan(index: int) -> tuple[str, str]:
    """Case ``index``'s seed file and mutation kind: the kinds in turn, the next seed after each round of kinds."""
    return SEEDS[index // len(KINDS) % len(SEEDS)], KINDS[index % len(KINDS)]


def run_case(index: int, master: int, seeds: list[Seed], work: Path, limit: float, compile_dt: bool,
             keep: Path | None = None, verbose: bool = False) -> CaseResult:
    name, kind = plan(index)
    seed = next(s for s in seeds if s.name == name)
    rng = np.random.default_rng((master, index))
    folder = Path(tempfile.mkdtemp(dir=work))
    if verbose:
        print(f"case {master}-{index} ({seed.name}, {kind})", file=sys.__stderr__, flush=True)
    file, out = folder / "case.nir", folder / "out.nir"
    try:
        what = mutate(seed.path, file, kind, rng)
    except Exception as exc:  # noqa: BLE001 - a mutation that does not apply to this file leaves it unchanged
        shutil.copyfile(seed.path, file)
        what = f"unchanged ({kind} not applicable: {type(exc).__name__}: {exc!s:.60})"
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, keep / f"{master}-{index}.nir")
    outcomes = []
    for command in COMMANDS:
        before = set(folder.iterdir())
        verdict, message = run_command(argv_for(command, seed, file, out, compile_dt), limit)
        left = sorted(p.name for p in set(folder.iterdir()) - before)
        if command == "compile" and verdict == "ok":
            left = [p for p in left if p != out.name] if out.is_file() else ["(no out.nir written)"]
        if left and verdict != "FAILURE":
            verdict, message = "FAILURE", f"left files behind: {left} ({verdict}: {message})"
        out.unlink(missing_ok=True)
        outcomes.append(Outcome(command, verdict, message))
    shutil.rmtree(folder, ignore_errors=True)
    return CaseResult(f"{master}-{index}", seed.name, kind, what, outcomes)


@contextlib.contextmanager
def memory_cap(headroom: int = MEMORY_HEADROOM) -> Iterator[None]:
    """Cap the address space at the current use plus ``headroom``, so a file that asks for a huge array gets a
    MemoryError (reported as a failure) instead of the machine's memory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    cap = used + headroom if hard == resource.RLIM_INFINITY else min(hard, used + headroom)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def read_limit(seconds: float | None) -> Iterator[None]:
    """The reader's limit for a trial read of a small file (nir_guard.READ_SECONDS), ``seconds`` for a while."""
    saved = nir_guard.READ_SECONDS
    if seconds is not None:
        nir_guard.READ_SECONDS = (seconds, saved[1])
    try:
        yield
    finally:
        nir_guard.READ_SECONDS = saved


def run_cases(indices: list[int], master: int = 0, limit: float = 20.0, keep: Path | None = None,
              progress: Callable[[CaseResult], None] | None = None, verbose: bool = False,
              read_seconds: float | None = None) -> list[CaseResult]:
    """Run the cases ``indices`` of ``master`` on fresh seed files in a temporary folder; ``read_seconds``
    shortens the time the reader gives HDF5 before it calls a file damaged (default: the reader's own)."""
    compile_dt = _dt_everywhere()
    results = []
    with tempfile.TemporaryDirectory(prefix="fuzz-nir-") as tmp:
        seeds = make_seeds(Path(tmp) / "seeds")
        with memory_cap(), read_limit(read_seconds), np.errstate(all="ignore"):
            for i in indices:
                results.append(run_case(i, master, seeds, Path(tmp), limit, compile_dt, keep, verbose))
                if progress is not None:
                    progress(results[-1])
    return results


def table(results: list[CaseResult]) -> str:
    """Outcomes per mutation kind and command: ok / error / FAILURE counts."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for r in results:
        for o in r.outcomes:
            counts[r.kind, o.command, o.verdict] += 1
    head = f"| kind | cases | {' | '.join(COMMANDS)} | failures |"
    rows = [head, "|" + "---|" * (len(COMMANDS) + 3)]
    for kind in [*KINDS, "all"]:
        sel = [r for r in results if kind in ("all", r.kind)]
        if not sel:
            continue
        cells = []
        for c in COMMANDS:
            get = [counts[k, c, v] for k in (KINDS if kind == "all" else (kind,)) for v in ("ok", "error")]
            cells.append(f"{sum(get[0::2])} ok / {sum(get[1::2])} error")
        rows.append(f"| {kind} | {len(sel)} | {' | '.join(cells)} | {sum(r.failed for r in sel)} |")
    return "\n".join(rows)


def failures(results: list[CaseResult]) -> list[str]:
    return [f"{r.id} ({r.seed}, {r.mutation}): {o.command}: {o.message}"
            for r in results if r.failed for o in r.outcomes if o.verdict == "FAILURE"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=1200, help="number of cases (default 1200)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these case ids (SEED-INDEX)")
    p.add_argument("--keep", type=Path, help="keep each mutated file in this folder as ID.nir")
    p.add_argument("--limit", type=float, default=20.0, help="seconds per command before it counts as a hang")
    p.add_argument("-v", "--verbose", action="store_true", help="name each case on stderr before running it")
    args = p.parse_args()
    if args.only:
        pairs = [tuple(int(v) for v in i.split("-")) for i in args.only]
        if len({s for s, _ in pairs}) != 1:
            p.error("--only: ids of one master seed at a time")
        master, indices = pairs[0][0], [i for _, i in pairs]
    else:
        master, indices = args.seed, list(range(args.cases))
    start, cpu = time.perf_counter(), time.process_time()

    def show(r: CaseResult) -> None:
        if r.failed or args.only:
            print(f"{r.id} {r.seed} {r.mutation}: " + "; ".join(f"{o.command} {o.verdict} {o.message[:120]}"
                                                            for o in r.outcomes), flush=True)

    results = run_cases(indices, master, args.limit, args.keep, show, args.verbose)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(table(results))
    bad = failures(results)
    guarded = sum("damaged HDF5 file: " in o.message for r in results for o in r.outcomes)
    print(f"\n{len(results)} cases, {len(results) * len(COMMANDS)} commands, {len(bad)} failing commands in "
          f"{sum(r.failed for r in results)} cases; {guarded} errors where the HDF5 library hung or crashed in the "
          f"reader's helper process; {wall:.0f} s wall, {cpu:.0f} s CPU (this process)")
    for line in bad:
        print(f"FAILURE {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
