"""A trial's result journal: ``result.json`` and ``progress.csv``, written, read and rewound.

The controller appends each result with :class:`TrialRecorder`; :func:`read_results` reads the
JSON lines back (restore, analysis); :func:`rewind_journal` drops the results past the
iteration a restarted trial resumes from.
"""

from __future__ import annotations

import csv as _csv
import io
import json
import logging
import os
from typing import Any

from overtone._dicts import flatten
from overtone._errors import TuneError
from overtone.storage._files import dumps, full_disk, write_all, write_atomic
from overtone.storage._layout import PROGRESS_FILE, RESULT_FILE

logger = logging.getLogger(__name__)


class TrialRecorder:
    """Appends each result of one trial to ``result.json`` and ``progress.csv``.

    Each result is one ``write`` per file, straight to the OS (no buffer in this process),
    so a crash of the driver loses at most a torn last line, which readers drop. The CSV
    columns are fixed by the first result, as in Ray Tune.
    """

    def __init__(self, trial_dir: str, fresh: bool = False, csv: bool = True) -> None:
        self._path = os.path.join(trial_dir, RESULT_FILE)
        self._json: int | None = _open_journal(self._path, fresh)
        self._header: list[str] | None = None
        self._csv_fd: int | None = None
        if not csv:
            return
        csv_path = os.path.join(trial_dir, PROGRESS_FILE)
        try:
            self._csv_fd = _open_journal(csv_path, fresh)
        except BaseException:
            self.close()
            raise
        self._line = io.StringIO()
        self._csv = _csv.writer(self._line)
        if not fresh and os.lseek(self._csv_fd, 0, os.SEEK_END) != 0:  # keep the header
            with open(csv_path, encoding="utf-8", newline="") as f:
                self._header = next(_csv.reader(io.StringIO(f.readline())), None)

    def write(self, result: dict[str, Any]) -> None:
        """Append ``result``. Raises ``StorageFullError`` when the disk is full."""
        try:
            self._write(result)
        except OSError as exc:
            full = full_disk(exc, os.path.dirname(self._path))
            if full is exc:
                raise
            raise full from exc

    def _write(self, result: dict[str, Any]) -> None:
        assert self._json is not None, "the recorder is closed"
        write_all(self._json, (dumps(result) + "\n").encode("utf-8"))
        if self._csv_fd is None:
            return
        if any(type(v) is dict and k != "config" for k, v in result.items()):
            row = flatten({k: v for k, v in result.items() if k != "config"})
        else:
            row = result  # the header and rows below leave "config" out
        line = self._line
        line.seek(0)
        line.truncate()
        if self._header is None:
            self._header = [k for k in row if k != "config"]
            self._csv.writerow(self._header)
        self._csv.writerow([row.get(k, "") for k in self._header])
        write_all(self._csv_fd, line.getvalue().encode("utf-8"))

    def close(self) -> None:
        fds = (self._json, self._csv_fd)
        self._json = self._csv_fd = None  # closing twice must not close another file's fd
        for fd in fds:
            if fd is not None:
                os.close(fd)


def _open_journal(path: str, fresh: bool) -> int:
    """Open a journal file to append to (a descriptor); ``fresh`` empties it first.

    The file is truncated only when it holds something: ext4 writes back a file that was
    truncated when it is closed, which costs a trial tens of microseconds for nothing.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    if fresh and os.fstat(fd).st_size:
        os.ftruncate(fd, 0)
    return fd


def rewind_journal(trial_dir: str, iteration: int) -> dict[str, Any] | None:
    """Drop every recorded result after ``iteration`` (the trial resumes from there).

    A trial restarted from a checkpoint taken at iteration N reports N+1 next, so rows past
    N would otherwise appear twice. Both files are rewritten atomically. Returns the last
    result kept, or None.
    """
    json_path = os.path.join(trial_dir, RESULT_FILE)
    rows = read_results(json_path)
    kept = [r for r in rows if r.get("training_iteration", 0) <= iteration]
    if len(kept) != len(rows) or os.path.exists(json_path):
        write_atomic(json_path, "".join(dumps(r) + "\n" for r in kept))
    csv_path = os.path.join(trial_dir, PROGRESS_FILE)
    if os.path.exists(csv_path):
        with open(csv_path, encoding="utf-8", newline="") as f:
            table = list(_csv.reader(f))
        if table:
            header, body = table[0], table[1:]
            col = header.index("training_iteration") if "training_iteration" in header else None
            keep = [
                row
                for row in body
                if col is not None
                and len(row) == len(header)
                and _as_number(row[col]) <= iteration
            ]
            out = io.StringIO()
            writer = _csv.writer(out)
            writer.writerow(header)
            writer.writerows(keep if kept else [])
            write_atomic(csv_path, out.getvalue() if kept else "")
    return kept[-1] if kept else None


def _as_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")


def read_results(path: str) -> list[dict[str, Any]]:
    """Every result in a ``result.json`` (one JSON object a line); [] if there is no file.

    A last line that does not parse is skipped, as a crash can tear the line being written;
    a bad line anywhere else means the file is corrupted and raises a ``TuneError``.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    while lines and not lines[-1].strip():
        lines.pop()
    results: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            result = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                logger.warning("Skipping the torn last line %d of %s", number, path)
                break
            raise TuneError(f"{path} is corrupted: line {number}: {exc}") from exc
        if not isinstance(result, dict):
            if number == len(lines):
                logger.warning("Skipping the torn last line %d of %s", number, path)
                break
            raise TuneError(
                f"{path} is corrupted: line {number} is {type(result).__name__}, not an object"
            )
        results.append(result)
    return results
