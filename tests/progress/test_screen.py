"""The Tuner's default output as a person sees it (issue 20): the slow example run under a
pseudo-terminal, its screen read through a terminal emulator (pyte) mid-run and at the end;
the same run into a log (a pipe); the verbose levels."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "slow_asha.py"
# The example scaled down: 2 x 2 grid values = 4 trials of 6 steps of 0.1 s (ASHA).
SMALL = ["--samples", "2", "--steps", "6", "--sleep", "0.1"]
PARAMETERS = ["lr", "layers", "activation", "optimizer/momentum", "width"]
COLUMNS, ROWS = 200, 100


def run_in_terminal(
    tmp_path: Path, *args: str, columns: int = COLUMNS, rows: int = ROWS
) -> tuple[float, list[str], list[str], str]:
    """Run the example under a pseudo-terminal. Returns the seconds from the start to the
    first status on screen, the screen mid-run (a trial RUNNING), the screen at the end, and
    the raw output; every screen before the summary is checked for stale lines."""
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    start = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a COLUMNS x ROWS terminal is its stdout
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        argv = [sys.executable, str(EXAMPLE), "--storage", str(tmp_path), *SMALL, *args]
        os.execv(sys.executable, argv)
    first_status: float | None = None
    mid: list[str] = []
    raw = []
    deadline = start + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            raw.append(data)
            stream.feed(data)
            shown = list(screen.display)
            if first_status is None and any("== Status ==" in line for line in shown):
                first_status = time.monotonic() - start
            if "== Experiment finished ==" not in "\n".join(shown):
                assert_no_stale_lines(shown)
                if not mid and any(row(line) and " RUNNING " in line for line in shown):
                    mid = shown
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    assert first_status is not None, b"".join(raw).decode(errors="replace")
    return first_status, mid, list(screen.display), b"".join(raw).decode(errors="replace")


def row(line: str) -> bool:
    return line.startswith("│ train_")


def assert_no_stale_lines(screen: list[str]) -> None:
    """While the experiment runs, the live status is on screen once: one header, one table,
    each trial in one row, each finished-trial line once."""
    text = "\n".join(screen)
    assert text.count("== Status ==") <= 1, text
    assert sum(line.startswith("╭") for line in screen) <= 1, text
    assert sum(line.startswith("Number of trials") for line in screen) <= 1, text
    names = [line.split("│")[1].strip() for line in screen if row(line)]
    assert len(names) == len(set(names)), text
    ends = [line for line in screen if " completed after " in line]
    assert len({e.split(" at ")[0] for e in ends}) == len(ends), text


def header(screen: list[str]) -> list[str]:
    line = next(line for line in screen if line.startswith("│ Trial name"))
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_default_output_in_a_terminal(tmp_path: Path) -> None:
    first_status, mid, end, raw = run_in_terminal(tmp_path)
    assert "RETURNED" in raw
    # The status is there within 2 s of the start (the interpreter's start-up included).
    assert first_status < 2.0, first_status
    # Mid-run: the live status with the progress bar, the counts with the pending trials and
    # a column per searched parameter (choice, grid, nested, sample_from).
    assert mid, raw
    mid_text = "\n".join(mid)
    assert re.search(r"\] \d/4 trials done \| elapsed 0:00:\d\d", mid_text), mid_text
    assert re.search(r"Number of trials: \d/4 \(.*RUNNING", mid_text), mid_text
    assert "Logical resource usage: " in mid_text
    for name in PARAMETERS:
        assert name in header(mid), mid_text
    # The end: the final status once (no stale copy above it), a line per finished trial,
    # the summary with the best trials and the best checkpoint.
    text = "\n".join(end)
    assert text.count("== Status ==") == 1, text
    assert "Number of trials: 4/4 (4 TERMINATED)" in text
    assert "[████████████████████████] 4/4 trials done" in text
    assert len([line for line in end if " completed after " in line]) == 4
    assert re.search(r"Total running time: \d+\.\ds", text)  # tenths, not "0s"
    assert "Best 4 of 4 trials by loss (min):" in text
    assert re.search(r"Best checkpoint: .*checkpoint_0000\d\d", text), text
    table_rows = [line for line in end if row(line)]
    assert len(table_rows) == 8  # 4 in the final status table, 4 in the summary's
    for name in PARAMETERS:
        assert header(end).count(name) == 1


def run_to_pipe(tmp_path: Path, *args: str) -> str:
    argv = [sys.executable, str(EXAMPLE), "--storage", str(tmp_path), *SMALL, *args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_default_output_in_a_log(tmp_path: Path) -> None:
    out = run_to_pipe(tmp_path)
    assert "\x1b" not in out
    # A block at the start and the final one: the next periodic one would come after 30 s.
    assert out.count("== Status ==") == 2, out
    first = out.split("== Status ==")[1]
    assert "Number of trials: " in first and "PENDING" in first  # before any trial finished
    assert out.count(" completed after ") == 4
    for name in PARAMETERS:
        assert re.search(rf"│ +{re.escape(name)} +│", out), name
    assert "Best 4 of 4 trials by loss (min):" in out and "Best checkpoint: " in out
    assert out.endswith("RETURNED\n")


@pytest.mark.parametrize(
    ("verbose", "status", "trial_lines", "summary"),
    [("0", False, False, False), ("1", False, False, True), ("2", True, True, True)],
)
def test_verbose_levels_of_the_tuner(
    tmp_path: Path, verbose: str, status: bool, trial_lines: bool, summary: bool
) -> None:
    out = run_to_pipe(tmp_path, "--verbose", verbose)
    assert ("== Status ==" in out) is status
    assert (" completed after " in out) is trial_lines
    assert ("== Experiment finished ==" in out) is summary
    assert (" reported " in out) is False  # per-result lines only at verbose 3
    if verbose == "0":
        assert out == "RETURNED\n"
    if summary:
        assert "Best checkpoint: " in out and "Best 4 of 4 trials by loss (min):" in out


def test_a_small_terminal_wraps_and_cuts_the_status_without_stale_lines(tmp_path: Path) -> None:
    # 90 columns: the table's lines wrap; 16 rows: the status is cut to the screen's height.
    _, _, end, raw = run_in_terminal(tmp_path, columns=90, rows=16)
    assert "RETURNED" in raw
    assert "(enlarge the terminal to see them)" in raw  # a status was cut, and redrawn
    assert "RETURNED" in "\n".join(end)
