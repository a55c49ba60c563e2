"""PBT's policy logs: ``pbt_global.txt`` and one ``pbt_policy_<trial_id>.txt`` per trial."""

from __future__ import annotations

import json
import os
from typing import Any

from overtone.storage._layout import PBT_GLOBAL_FILE, pbt_policy_name

_BATCH = 1000  # exploits kept in memory at most before the files are written


class PolicyLog:
    """The exploits, one JSON row each, written in batches.

    ``pbt_global.txt`` gets every row; a trial's ``pbt_policy_<trial_id>.txt`` is its lineage:
    the file of the trial it cloned, then the row of that exploit (its own earlier lineage
    is left behind with its old state). Rows wait in memory until :meth:`flush` (the
    scheduler flushes when the experiment saves its state, about once a second) or until
    there are ``_BATCH`` of them: creating a file can cost a millisecond, a decision must not.
    """

    def __init__(self) -> None:
        self._lineage: dict[str, tuple[bytes, ...]] = {}  # trial -> its file's lines
        self._unwritten: list[tuple[str, str, bytes]] = []  # (folder, trial, line)

    def record(self, folder: str, trial_id: str, source_id: str, row: list[Any]) -> None:
        line = (json.dumps(row, default=_json_default) + "\n").encode()
        self._lineage[trial_id] = (*self._lineage.get(source_id, ()), line)
        self._unwritten.append((folder, trial_id, line))
        if len(self._unwritten) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._unwritten:
            return
        unwritten, self._unwritten = self._unwritten, []
        lines: dict[str, list[bytes]] = {}
        trials: dict[str, set[str]] = {}
        for folder, trial_id, line in unwritten:
            lines.setdefault(folder, []).append(line)
            trials.setdefault(folder, set()).add(trial_id)
        for folder, new in lines.items():
            os.makedirs(folder, exist_ok=True)
            _write(os.path.join(folder, PBT_GLOBAL_FILE), b"".join(new), os.O_APPEND)
            for trial_id in sorted(trials[folder]):
                path = os.path.join(folder, pbt_policy_name(trial_id))
                _write(path, b"".join(self._lineage[trial_id]), os.O_TRUNC)


def _write(path: str, data: bytes, mode: int) -> None:
    """One system call each to open, write and close: cheaper than Python's buffered files."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    return repr(value)
