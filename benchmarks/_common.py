"""Shared helpers for the benchmarks: timing fresh interpreters and printing tables.

Every timed run is a fresh Python subprocess, so the wall time includes interpreter start
and imports, as the targets do. Every run gets its own ``tempfile.mkdtemp()`` storage
directory, passed both as ``OVERTONE_STORAGE_PATH`` and as ``BENCH_STORAGE`` (for scripts
that hand ``storage_path=`` to ``tune.run`` explicitly); it is removed afterwards, so nothing
is written to ``~/overtone_results``.
"""

from __future__ import annotations

import os
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


@dataclass
class Timing:
    """Wall times (seconds) of the repetitions of one workload."""

    name: str
    times: list[float] = field(default_factory=list)
    error: str | None = None
    output_bytes: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

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
    env: dict[str, str] | None = None,
    stdout: int | None = subprocess.DEVNULL,
    timeout: float = 600,
) -> tuple[float, subprocess.CompletedProcess[bytes], str]:
    """Run ``python *argv`` once in a fresh storage dir. Returns (wall s, process, storage)."""
    storage = tempfile.mkdtemp(prefix="overtone-bench-")
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["OVERTONE_STORAGE_PATH"] = storage
    full_env["BENCH_STORAGE"] = storage
    try:
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
        # Something must have been written where we asked, or the run went elsewhere.
        wrote = any(os.scandir(storage))
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return elapsed, proc, ("" if wrote else "nothing was written to the storage path")


def time_python(
    name: str,
    argv: Sequence[str],
    *,
    reps: int,
    env: dict[str, str] | None = None,
    expect_storage: bool = True,
    measure_output: bool = False,
    timeout: float = 600,
) -> Timing:
    """Time ``python *argv`` ``reps`` times, each in a fresh interpreter, stdout discarded.

    With ``measure_output``, one extra untimed run captures stdout to count its bytes.
    A failing run stops the repetitions and records the error (stderr's tail).
    """
    timing = Timing(name)
    for _ in range(reps):
        try:
            elapsed, proc, note = run_once(argv, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            timing.error = f"timed out after {timeout:.0f} s"
            return timing
        if proc.returncode != 0:
            timing.error = (
                f"exit code {proc.returncode}; stderr tail:\n"
                + _tail(proc.stderr.decode(errors="replace"))
            )
            return timing
        if expect_storage and note:
            timing.error = note
            return timing
        timing.times.append(elapsed)
    if measure_output:
        _, proc, _ = run_once(argv, env=env, stdout=subprocess.PIPE, timeout=timeout)
        timing.output_bytes = len(proc.stdout or b"")
    return timing


def time_code(name: str, code: str, **kwargs) -> Timing:
    """Time ``python -c code``; see ``time_python``."""
    return time_python(name, ["-c", code], **kwargs)


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
    """A table row: workload | median | min | max | target | Ray 2.60 | ratio | out.

    ``strict`` means the target is ``<`` rather than ``<=``.
    """
    if timing.error is not None:
        first = timing.error.splitlines()[0]
        return [timing.name, "ERROR", "-", "-", fmt_target(target, strict), fmt_s(reference),
                first, fmt_bytes(timing.output_bytes)]
    if target is None:
        ratio = "-"
    else:
        r = timing.median / target
        missed = timing.median >= target if strict else timing.median > target
        ratio = f"{r:.2f}" + ("  MISS" if missed else "  ok")
    return [
        timing.name,
        fmt_s(timing.median),
        fmt_s(timing.min),
        fmt_s(timing.max),
        fmt_target(target, strict),
        "-" if reference is None else f"{reference:g} s",
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
