"""Shared helpers for the benchmarks: timing fresh interpreters and printing tables.

Every timed run is a fresh Python subprocess, so the wall time includes interpreter start
and imports, as the targets do. Every run gets its own ``tempfile.mkdtemp()`` storage
directory, passed both as ``OVERTONE_STORAGE_PATH`` and as ``BENCH_STORAGE`` (for scripts
that hand ``storage_path=`` to ``tune.run`` explicitly), so nothing is written to
``~/overtone_results``. The directories are removed when the benchmark ends, not after each
run: for a minute or more after a few thousand files are deleted, creating a file on this
VM's ext4 costs up to 40x more (0.02 ms -> 0.75 ms: ext4 skips recently freed inodes one by
one), which would bill one run's clean-up to the next run (see benchmarks/README.md).
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_RESULTS = Path("~/overtone_results").expanduser()
_TRASH: list[str] = []  # storage dirs of finished runs, removed at exit


@atexit.register
def _empty_trash() -> None:
    while _TRASH:
        shutil.rmtree(_TRASH.pop(), ignore_errors=True)


@dataclass
class Timing:
    """Wall times (seconds) of the repetitions of one workload."""

    name: str
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)  # user + sys, the process tree
    error: str | None = None
    output_bytes: int | None = None
    stderr: str = ""  # the tail of the first non-empty stderr of a successful run

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_times) if self.cpu_times else float("nan")

    @property
    def min(self) -> float:
        return min(self.times) if self.times else float("nan")

    @property
    def max(self) -> float:
        return max(self.times) if self.times else float("nan")


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_once(
    argv: Sequence[str],
    *,
    env: dict[str, str | None] | None = None,
    stdout: int | None = subprocess.DEVNULL,
    timeout: float = 600,
    storage_root: str | None = None,
) -> tuple[float, subprocess.CompletedProcess[bytes], str, float]:
    """Run ``python *argv`` once in a fresh storage dir; ``env`` entries of None are unset.

    Returns (wall s, the process, a note if nothing was written to storage, CPU s). The CPU
    time is user + system of the child and of the descendants it waited for (its workers),
    which a busy machine inflates much less than the wall time. The storage dir is made under
    ``storage_root`` (default: the temp dir) and removed when the benchmark exits.
    """
    storage = tempfile.mkdtemp(prefix="overtone-bench-", dir=storage_root)
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    full_env["OVERTONE_STORAGE_PATH"] = storage
    full_env["BENCH_STORAGE"] = storage
    try:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            [PYTHON, *argv],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=REPO,
            timeout=timeout,
            check=False,
        )
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
        # Something must have been written where we asked, or the run went elsewhere.
        wrote = any(os.scandir(storage))
    finally:
        _TRASH.append(storage)
    return elapsed, proc, ("" if wrote else "nothing was written to the storage path"), cpu


@dataclass
class Variant:
    """One command to time: ``python *argv``."""

    name: str
    argv: Sequence[str]
    measure_output: bool = False  # one more untimed run counts its stdout bytes
    expect_storage: bool = True  # it must write something to the storage path


def time_interleaved(
    variants: Sequence[Variant],
    *,
    reps: int,
    warmup: int = 1,
    env: dict[str, str | None] | None = None,
    timeout: float = 600,
    storage_root: str | None = None,
) -> list[Timing]:
    """Time each variant ``reps`` times, round-robin, each run in a fresh interpreter.

    Interleaving the variants spreads a busy machine's slow spells over all of them, so
    their difference (e.g. verbose vs quiet) means more. ``warmup`` untimed rounds come first
    (page cache, and the bytecode cache if enabled). A variant whose run fails is dropped
    from later rounds, with the error (stderr's tail) recorded.
    """
    timings = [Timing(v.name) for v in variants]
    for rep in range(-warmup, reps):
        for variant, timing in zip(variants, timings):
            if timing.error is not None:
                continue
            try:
                elapsed, proc, note, cpu = run_once(
                    variant.argv, env=env, timeout=timeout, storage_root=storage_root
                )
            except subprocess.TimeoutExpired:
                timing.error = f"timed out after {timeout:.0f} s"
                continue
            if proc.returncode != 0:
                timing.error = f"exit code {proc.returncode}; stderr tail:\n" + _tail(
                    proc.stderr.decode(errors="replace")
                )
                continue
            if variant.expect_storage and note:
                timing.error = note
                continue
            if proc.stderr.strip() and not timing.stderr:
                timing.stderr = _tail(proc.stderr.decode(errors="replace"))
            if rep >= 0:
                timing.times.append(elapsed)
                timing.cpu_times.append(cpu)
    for variant, timing in zip(variants, timings):
        if variant.measure_output and timing.error is None:
            _, proc, _, _ = run_once(
                variant.argv,
                env=env,
                stdout=subprocess.PIPE,
                timeout=timeout,
                storage_root=storage_root,
            )
            timing.output_bytes = len(proc.stdout or b"")
    return timings


def bytecode_env(enabled: bool) -> dict[str, str | None]:
    """Environment for the children: with ``enabled``, a persistent bytecode cache.

    This sandbox sets ``PYTHONDONTWRITEBYTECODE=1``, so each fresh interpreter compiles
    Overtone's modules again, which a normal install does not. ``enabled`` unsets it and sends
    the ``.pyc`` files to a cache under the temp dir (``PYTHONPYCACHEPREFIX``), never into the
    repository; the warm-up runs fill it.
    """
    if not enabled:
        return {}
    prefix = os.path.join(tempfile.gettempdir(), "overtone-bench-pycache")
    return {"PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": prefix}


def describe_bytecode(enabled: bool) -> str:
    if enabled:
        return "bytecode cache on (PYTHONPYCACHEPREFIX under the temp dir)"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return "bytecode cache off (PYTHONDONTWRITEBYTECODE is set; try --pycache)"
    return "bytecode cache as the environment has it"


def fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    if value != value:  # NaN
        return "n/a"
    return f"{value:.3f}"


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024 / 1024:.1f} MiB"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table with padded columns."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def target_row(
    timing: Timing,
    target: float | None,
    reference: float | None,
    *,
    strict: bool = False,
) -> list[str]:
    """A row: workload | median | min | max | CPU | target | Ray 2.60 | ratio | stdout.

    ``strict`` means the target is ``<`` rather than ``<=``.
    """
    ref = "-" if reference is None else f"{reference:g} s"
    if timing.error is not None:
        first = timing.error.splitlines()[0]
        return [
            timing.name,
            "ERROR",
            "-",
            "-",
            "-",
            fmt_target(target, strict),
            ref,
            first,
            fmt_bytes(timing.output_bytes),
        ]
    if target is None:
        ratio = "-"
    else:
        missed = timing.median >= target if strict else timing.median > target
        ratio = f"{timing.median / target:.2f}" + ("  MISS" if missed else "  ok")
    return [
        timing.name,
        fmt_s(timing.median),
        fmt_s(timing.min),
        fmt_s(timing.max),
        fmt_s(timing.cpu_median),
        fmt_target(target, strict),
        ref,
        ratio,
        fmt_bytes(timing.output_bytes),
    ]


def fmt_target(target: float | None, strict: bool = False) -> str:
    if target is None:
        return "-"
    return ("< " if strict else "<= ") + f"{target:g} s"


def snapshot_default_results() -> set[str]:
    """Names in ``~/overtone_results`` now, to check that benchmarks did not write there."""
    try:
        return set(os.listdir(DEFAULT_RESULTS))
    except OSError:
        return set()


def describe_storage(root: str | None) -> str:
    """Where the storage dirs go, with the filesystem type (from /proc/mounts) if known."""
    path = os.path.realpath(root or tempfile.gettempdir())
    fstype, best = "?", ""
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                mount = parts[1]
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, fstype = mount, parts[2]
    except OSError:
        pass
    return f"storage under {path} ({fstype})"


def file_creation_us(root: str | None = None, count: int = 200) -> float:
    """Microseconds to create one empty file where the storage dirs go (median of ``count``).

    On this VM's ext4 it ranges from about 20 us to 750 us: ext4 skips inodes freed in the
    last minute or so when it allocates one, so right after many files were deleted (a test
    suite, an earlier benchmark's clean-up), every file an experiment creates costs more.
    The files are left for the clean-up at exit, so the probe frees nothing itself.
    """
    folder = tempfile.mkdtemp(prefix="overtone-bench-probe-", dir=root)
    _TRASH.append(folder)
    times = []
    for i in range(count):
        start = time.perf_counter()
        os.close(os.open(os.path.join(folder, str(i)), os.O_WRONLY | os.O_CREAT, 0o644))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def run_marked(argv: Sequence[str], marker: str, label: str) -> dict | None:
    """Run ``python *argv`` with a new temporary ``BENCH_STORAGE``, and return the JSON
    that follows ``marker`` on its last such line of stdout; None (after printing why,
    naming ``label``) when it fails or prints none."""
    with tempfile.TemporaryDirectory() as storage:
        proc = subprocess.run(
            [sys.executable, *argv],
            env={**os.environ, "BENCH_STORAGE": storage},
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(marker)]
    if proc.returncode or not lines:
        print(f"ERROR in {label}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
        return None
    return json.loads(lines[-1][len(marker) :])


def loadavg() -> str:
    """The 1-minute load average, to judge how noisy the machine was (2 cores here)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().split()[0]
    except OSError:
        return "?"
