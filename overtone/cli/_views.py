"""The experiments and trials of a storage root, as the command line and the dashboard see them.

They read what the controller writes (``experiment_state.json``, each trial's ``result.json``
journal) through a :class:`~overtone.cli._store.Store` and never write anything. Journals are
read incrementally: a refresh reads only the bytes appended since the last one, so a running
experiment of 10,000 trials costs one ``stat`` per trial (locally) or one listing (remotely)
per refresh. The state file is checked by :func:`overtone.storage._state.parse_experiment_state`,
as :mod:`overtone.analysis` checks it.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from typing import Any

from overtone._checks import is_number
from overtone._dicts import flatten, lookup
from overtone._errors import ExperimentStateError
from overtone._trial import TrialStatus
from overtone.cli._store import PathRefused, Store, check_part
from overtone.storage._layout import RESULT_FILE, STATE_FILE, STATE_UPDATES_FILE
from overtone.storage._state import parse_experiment_state

#: A running experiment whose files have not changed for this long is called stale.
STALE_AFTER_S = 120.0
UNFINISHED = ("PENDING", "RUNNING", "PAUSED")

_INF = float("inf")


def _read_from(path: str, offset: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            if offset:
                f.seek(offset)
            return f.read()
    except OSError:
        return None


def _parse_lines(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a journal's whole lines; a line that does not parse is skipped."""
    lines = [line for line in data.splitlines() if line.strip()]
    try:  # one parse of them all is several times faster than one a line
        rows = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        rows = []
        for line in lines:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return [row for row in rows if isinstance(row, dict)]


def finite(value: Any) -> Any:
    """``value``, or None for NaN and infinities (JSON has no spelling for them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class TrialView:
    """What is known of one trial: its state entry and a summary of its journal."""

    __slots__ = (
        "entry",
        "offset",
        "count",
        "last",
        "low",
        "high",
        "rev",
        "first_time",
        "journal",
        "config",
        "cached_row",
    )

    def __init__(self, entry: dict[str, Any], journal: str | None = None) -> None:
        self.entry = entry
        self.journal = journal  # the local path of result.json, checked once; None remotely
        self.config = flatten(entry.get("config") or {})
        self.cached_row: tuple[Any, dict[str, Any]] | None = None
        self.offset = 0  # bytes of result.json read so far (whole lines only)
        self.count = 0
        self.last: dict[str, Any] = {}
        self.low: dict[str, float] = {}
        self.high: dict[str, float] = {}
        self.rev = 0
        self.first_time: float | None = None

    @property
    def trial_id(self) -> str:
        return str(self.entry["trial_id"])

    @property
    def dirname(self) -> str:
        return str(self.entry["dirname"])

    @property
    def status(self) -> str:
        return str(self.entry["status"])

    def reset(self) -> None:
        self.offset = self.count = 0
        self.last, self.low, self.high = {}, {}, {}
        self.first_time = None

    def add(self, result: dict[str, Any]) -> None:
        if any(type(v) is dict for v in result.values()):  # rare: flatten only then
            result = flatten({k: v for k, v in result.items() if k != "config"})
        self.count += 1
        self.last = result
        if self.first_time is None and is_number(result.get("timestamp")):
            self.first_time = float(result["timestamp"])
        low, high = self.low, self.high
        for key, value in result.items():
            kind = type(value)
            if (kind is float or kind is int) and value == value:
                if value < low.get(key, _INF):
                    low[key] = value
                if value > high.get(key, -_INF):
                    high[key] = value

    def result(self) -> dict[str, Any]:
        """The last result: from the journal, else from the state file."""
        if self.last:
            return self.last
        return flatten(dict(self.entry.get("last_result") or {}))

    def best(self, metric: str, mode: str | None) -> Any:
        table = self.high if mode == "max" else self.low
        if metric in table:
            return table[metric]
        value = self.result().get(metric)
        return value if is_number(value) else None


class ExperimentView:
    """One experiment, re-read on :meth:`refresh` as far as its files changed.

    Thread-safe: the dashboard refreshes from several requests at once.
    """

    def __init__(self, store: Store, name: str) -> None:
        check_part(name)
        self.store = store
        self.name = name
        self.state: dict[str, Any] = {}
        self.trials: dict[str, TrialView] = {}
        self.rev = 0
        self.state_mtime = 0.0
        self.last_update = 0.0
        self._state_sig: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._refreshed = 0.0
        self._config_keys: list[str] | None = None
        self._folder: str | None = None
        self.complete = False

    # -- loading ---------------------------------------------------------------------------
    def refresh(self, min_interval: float = 0.0, budget: float | None = None) -> ExperimentView:
        """Read what changed since the last refresh (at most every ``min_interval`` s).

        With a ``budget`` (seconds), journals are read until it is spent; the rest are read
        by the next refreshes, and :attr:`complete` says whether all were read. Until its
        journal is read, a trial's row shows the last result of the state file.
        """
        with self._lock:
            now = time.monotonic()
            if self._state_sig is not None and now - self._refreshed < min_interval:
                return self
            self._refreshed = now
            self._refresh(None if budget is None else now + budget)
        return self

    def _journal(self, dirname: str) -> str | None:
        """The local path of a trial's ``result.json``, or None remotely or if the trial's
        folder leads out of the root (a symlink)."""
        if self.store.remote:
            return None
        try:
            if self._folder is None:
                self._folder = self.store.path(self.name)  # resolved once
            folder = os.path.join(self._folder, check_part(dirname))
            if os.path.islink(folder):  # one lstat; resolve only what is a link
                folder = self.store.path(self.name, dirname)
        except PathRefused:
            return None
        return os.path.join(folder, RESULT_FILE)

    def _refresh(self, deadline: float | None) -> None:
        store = self.store
        if store.remote:
            store.invalidate()
            files = store.sizes(self.name)
            sig = files.get(STATE_FILE)
            updates_sig = files.get(STATE_UPDATES_FILE)
        else:
            files = None
            sig = store.stat(self.name, STATE_FILE)
            updates_sig = store.stat(self.name, STATE_UPDATES_FILE)
        if sig is None:
            raise ExperimentStateError(
                f"{store.display(self.name)} is not an experiment directory: it has no "
                f"{STATE_FILE}"
            )
        if (sig, updates_sig) != self._state_sig:
            # the state file, then the trials changed since it was written whole
            data = store.read_bytes(self.name, STATE_FILE) or b""
            updates = store.read_bytes(self.name, STATE_UPDATES_FILE) if updates_sig else None
            state = parse_experiment_state(data, store.display(self.name, STATE_FILE), updates)
            self._state_sig = (sig, updates_sig)
            self.state = state
            self.state_mtime = max(sig[1], updates_sig[1] if updates_sig else 0.0)
            old = self.trials
            self.trials = {}
            for entry in state["trials"]:
                tid = str(entry["trial_id"])
                view = old.get(tid)
                if view is None or view.dirname != str(entry["dirname"]):
                    view = TrialView(entry, self._journal(str(entry["dirname"])))
                elif view.entry != entry:
                    view.entry = entry
                    view.config = flatten(entry.get("config") or {})
                else:
                    self.trials[tid] = view
                    continue
                self.rev += 1
                view.rev = self.rev
                self.trials[tid] = view
            self._config_keys = None
        newest = self.state_mtime
        self.complete = True
        for view in self.trials.values():
            if files is not None:
                info = files.get(f"{view.dirname}/{RESULT_FILE}")
                if info is None:
                    continue
                size, mtime = info
            elif view.journal is None:
                continue
            else:
                try:
                    st = os.stat(view.journal)
                except OSError:
                    continue
                size, mtime = st.st_size, st.st_mtime
            newest = max(newest, mtime)
            if size == view.offset:
                continue
            if deadline is not None and time.monotonic() > deadline:
                self.complete = False  # the next refresh goes on from here
                continue
            if size < view.offset:  # rewound after a restore: read it again
                view.reset()
            if view.journal is not None:
                data = _read_from(view.journal, view.offset)
            else:
                data = store.read_bytes(self.name, view.dirname, RESULT_FILE, start=view.offset)
            if not data:
                continue
            end = data.rfind(b"\n") + 1  # a torn last line waits for the next refresh
            for result in _parse_lines(data[:end]):
                view.add(result)
            view.offset += end
            self.rev += 1
            view.rev = self.rev
        self.last_update = newest

    # -- summaries -------------------------------------------------------------------------
    @property
    def metric(self) -> str | None:
        return self.state.get("metric")

    @property
    def mode(self) -> str | None:
        return self.state.get("mode")

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in TrialStatus}
        for view in self.trials.values():
            counts[view.status] = counts.get(view.status, 0) + 1
        return counts

    def running(self, now: float | None = None) -> bool:
        """Trials unfinished, not interrupted, and files changed within ``STALE_AFTER_S``."""
        return running_state(self.state, self.last_update, now)

    def result_keys(self) -> list[str]:
        keys: set[str] = set()
        for view in self.trials.values():
            keys.update(k for k, v in view.result().items() if is_number(v))
        return sorted(keys)

    def config_keys(self) -> list[str]:
        if self._config_keys is None:
            keys: dict[str, None] = {}
            for view in self.trials.values():
                keys.update(dict.fromkeys(view.config))
            self._config_keys = list(keys)
        return self._config_keys

    def find(self, trial_id: str) -> TrialView:
        view = self.trials.get(trial_id)
        if view is None:
            raise KeyError(f"experiment {self.name!r} has no trial {trial_id!r}")
        return view

    def results(self, trial_id: str) -> list[dict[str, Any]]:
        """Every result of a trial, flattened (read whole, not cached)."""
        view = self.find(trial_id)
        data = self.store.read_bytes(self.name, view.dirname, RESULT_FILE) or b""
        rows = []
        for line in data.splitlines():
            try:
                result = json.loads(line)
            except ValueError:
                continue
            if isinstance(result, dict):
                rows.append(flatten({k: v for k, v in result.items() if k != "config"}))
        return rows

    def row(self, view: TrialView, metric: str | None, mode: str | None) -> dict[str, Any]:
        """One row of the trial table (cached until the trial changes)."""
        key = (view.rev, view.count, metric, mode)
        if view.cached_row is not None and view.cached_row[0] == key:
            return view.cached_row[1]
        result = view.result()
        row: dict[str, Any] = {
            "trial_id": view.trial_id,
            "trial_name": view.entry.get("trial_name") or view.trial_id,
            "status": view.status,
            "config": view.config,
            "iterations": result.get("training_iteration", view.count),
            "runtime_s": finite(result.get("time_total_s")),
            "num_failures": view.entry.get("num_failures") or 0,
            "error": bool(view.entry.get("error_file")),
            "checkpoints": len(view.entry.get("checkpoints") or []),
        }
        if metric:
            row["last"] = finite(result.get(metric))
            row["best"] = finite(view.best(metric, mode))
        view.cached_row = (key, row)
        return row

    def best_value(self, metric: str | None, mode: str | None) -> Any:
        """The best of every trial's best value of ``metric`` (None without one)."""
        if not metric:
            return None
        values = [v.best(metric, mode) for v in self.trials.values()]
        numbers = [v for v in values if is_number(v) and v == v]
        if not numbers:
            return None
        return max(numbers) if mode == "max" else min(numbers)


def running_state(state: dict[str, Any], last_update: float, now: float | None = None) -> bool:
    if state.get("interrupted"):
        return False
    if not any(t.get("status") in UNFINISHED for t in state.get("trials", [])):
        return False
    now = time.time() if now is None else now
    return now - last_update < STALE_AFTER_S


def summarize(store: Store, name: str) -> dict[str, Any]:
    """One line of ``overtone ls``: read from ``experiment_state.json`` alone (fast).

    ``best`` is the best of the trials' last reported values of the experiment's metric
    (what ``ExperimentAnalysis.best_result`` gives with its default scope).
    """
    found = store.read_stat(name, STATE_FILE)
    if found is None:
        raise FileNotFoundError(store.display(name, STATE_FILE))
    data, mtime = found
    updates_found = store.read_stat(name, STATE_UPDATES_FILE)
    updates = None
    if updates_found is not None:
        updates, updates_mtime = updates_found
        mtime = max(mtime, updates_mtime)
    state = parse_experiment_state(data, store.display(name, STATE_FILE), updates)
    counts: dict[str, int] = {}
    metric, mode = state.get("metric"), state.get("mode")
    values = []
    for entry in state["trials"]:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        if metric:
            value = lookup(entry.get("last_result") or {}, metric)
            if is_number(value) and value == value:
                values.append(value)
    best = None
    if values:
        best = max(values) if mode == "max" else min(values)
    return {
        "name": name,
        "path": store.display(name),
        "trials": len(state["trials"]),
        "status": counts,
        "metric": metric,
        "mode": mode,
        "best": finite(best),
        "started": state.get("start_time"),
        "last_update": mtime,
        "running": running_state(state, mtime),
    }
