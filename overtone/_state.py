"""The experiment state: its writer (the controller's only persistent record besides the
trials' journals) and its loader, which rebuilds an experiment to continue it after a stop or
a crash.

The state is two files in the experiment folder: ``experiment_state.json`` (trials, their
statuses and kept checkpoints) and ``search_state.pkl`` (the searcher's and scheduler's state).
Between two whole writes of the first, the trials that changed are appended to
``experiment_state.updates.jsonl`` (see ``storage._state``), so that a save costs in
proportion to what changed, not to the experiment's size.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from overtone import __version__
from overtone._study_change import space_key
from overtone._trial import TrialStatus
from overtone._trial_state import Trial
from overtone._trial_table import RawEntry, TrialTable
from overtone.storage._journal import read_results
from overtone.storage._layout import (
    FORMAT_VERSION,
    RESULT_FILE,
    STATE_FILE,
    TUNER_FILE,
    checkpoint_iteration,
)
from overtone.storage._state import (
    append_state_updates,
    load_experiment_state,
    load_search_state,
    save_experiment_state,
    save_search_state,
)

__all__ = ["TUNER_FILE", "ResumeMode", "StateWriter", "can_restore", "restore_experiment"]

#: Below this many trials the state file is written whole at every save (a few milliseconds),
#: so that it alone stays complete for readers that know nothing of the updates file; from it
#: on, saves append the changed trials until the appended entries outnumber the trials, so that
#: the whole writes cost O(1) per update.
_MIN_TRIALS_FOR_UPDATES = 1000


class StateWriter:
    """Writes an experiment's state files, each atomically (a temp name, then a rename).

    The searcher's and scheduler's state is written before the state file, so that a state
    file never names trials the searcher does not know it suggested.
    """

    def __init__(self, spec: Any, start_time: float) -> None:
        self.spec = spec
        self.start_time = start_time
        self.last_save = 0.0
        self.last_duration = 0.0  # seconds the last save took
        self._search_state_error: str | None = None
        self._snapshot_id = ""
        self._updates = 0  # appended since the last snapshot

    def save(
        self,
        trials: TrialTable | Collection[Trial],
        search_done: bool,
        interrupted: bool,
        changed: list[Trial | RawEntry] | None = None,
    ) -> None:
        """Save the state: whole, or (given ``changed``, the trials that changed since the last
        save) by appending their entries when there are many trials (see
        ``_MIN_TRIALS_FOR_UPDATES``). A :class:`TrialTable` gives its retired trials' entries
        as the JSON they were spilled as; so may ``changed`` (a :class:`RawEntry`)."""
        spec = self.spec
        began = time.perf_counter()
        self._save_search_state(search_done)
        if (
            changed is not None
            and self._snapshot_id
            and len(trials) >= _MIN_TRIALS_FOR_UPDATES
            and self._updates + len(changed) <= len(trials)
        ):
            append_state_updates(
                spec.experiment_path,
                self._snapshot_id,
                [t if isinstance(t, RawEntry) else t.to_state() for t in changed],
            )
            self._updates += len(changed)
        else:
            self._snapshot_id = f"{os.getpid():x}-{time.time_ns():x}"
            state = {
                "format_version": FORMAT_VERSION,
                "overtone_version": __version__,
                "name": spec.name,
                "start_time": self.start_time,
                "metric": spec.metric,
                "mode": spec.mode,
                "interrupted": interrupted,
                "snapshot_id": self._snapshot_id,
                "trials": (
                    trials.entries()
                    if isinstance(trials, TrialTable)
                    else (t.to_state() for t in trials)
                ),
            }
            save_experiment_state(spec.experiment_path, state)
            self._updates = 0
        if spec.remote is not None:
            spec.remote.notify()
        self.last_save = time.time()
        self.last_duration = time.perf_counter() - began

    def _save_search_state(self, search_done: bool) -> None:
        spec = self.spec
        try:
            data = cloudpickle.dumps(
                {
                    "searcher": spec.searcher.get_state(),
                    "scheduler": spec.scheduler.get_state(),
                    "search_done": search_done,
                    "space_key": space_key(spec.param_space),
                }
            )
        except Exception as exc:  # noqa: BLE001 - any failure means the same: not restorable
            if self._search_state_error is None:
                self._search_state_error = f"{type(spec.searcher).__name__}: {exc}"
                print(
                    f"Warning: the search state cannot be saved, so this experiment will "
                    f"not be resumable: {self._search_state_error}",
                    file=sys.stderr,
                )
            data = cloudpickle.dumps({"error": self._search_state_error})
        save_search_state(spec.experiment_path, data)


@dataclass
class ResumeMode:
    """Which trials a restore continues."""

    resume_unfinished: bool = True
    resume_errored: bool = False
    restart_errored: bool = False
    auto: bool = False  # start afresh when there is nothing to restore


def parse_resume(value: Any) -> ResumeMode | None:
    """Ray Tune's ``resume=`` values: True, "AUTO", "LOCAL", "ERRORED_ONLY", "+ERRORED"..."""
    if value in (None, False):
        return None
    if value is True:
        return ResumeMode()
    if not isinstance(value, str):
        raise ValueError(f"resume is {value!r}, but must be a bool or a string like 'AUTO'")
    text = value.upper()
    base, _, suffix = text.partition("+")
    if base in ("ERRORED_ONLY", "RESTART_ERRORED", "RESTART_ERRORED_ONLY"):
        base, suffix = "LOCAL", base
    if base not in ("AUTO", "LOCAL", "REMOTE", "TRUE"):
        raise ValueError(
            f"resume is {value!r}, but must be True, 'AUTO', 'LOCAL', 'REMOTE' or "
            "'ERRORED_ONLY', optionally with '+ERRORED', '+ERRORED_ONLY', "
            "'+RESTART_ERRORED' or '+RESTART_ERRORED_ONLY'"
        )
    mode = ResumeMode(auto=base == "AUTO")
    if suffix == "ERRORED":
        mode.resume_errored = True
    elif suffix == "ERRORED_ONLY":
        mode.resume_unfinished, mode.resume_errored = False, True
    elif suffix == "RESTART_ERRORED":
        mode.restart_errored = True
    elif suffix == "RESTART_ERRORED_ONLY":
        mode.resume_unfinished, mode.restart_errored = False, True
    elif suffix:
        raise ValueError(f"resume is {value!r}: unknown suffix {suffix!r}")
    return mode


@dataclass
class RestoredExperiment:
    trials: list[Trial]
    prefix: str
    count: int
    start_time: float
    search_state: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def can_restore(path: str) -> bool:
    return os.path.isfile(os.path.join(os.path.expanduser(path), STATE_FILE))


def restore_experiment(path: str, mode: ResumeMode) -> RestoredExperiment:
    """Read the experiment at ``path`` and decide, per trial, how it continues."""
    state = load_experiment_state(path)  # clear errors for a missing or corrupted state
    path = os.path.dirname(os.path.join(os.path.abspath(os.path.expanduser(path)), STATE_FILE))
    trials: list[Trial] = []
    count, prefix = 0, ""
    for entry in state["trials"]:
        trial = Trial.from_state(entry, path)
        # The trial's folder is the record of what it reported and saved: its results and
        # checkpoints win over the entry's copy, which may be older.
        rows = read_results(os.path.join(trial.path, RESULT_FILE))
        by_iteration = {r.get("training_iteration"): r for r in rows}
        trial.checkpoints = _checkpoints_on_disk(trial.path, by_iteration)
        trial.last_result = {**rows[-1], "config": trial.config} if rows else {}
        if rows or trial.checkpoints:
            trial.runs = 1
        trial.status = _next_status(trial.status, mode, trial)
        if trial.status.is_finished() and trial.last_result:
            trial.last_result["done"] = True
        trials.append(trial)
        head, _, index = trial.trial_id.rpartition("_")
        prefix = prefix or head
        if index.isdigit():
            count = max(count, int(index) + 1)
    search_state = load_search_state(path)
    return RestoredExperiment(
        trials,
        prefix or os.urandom(3).hex()[:5],
        count,
        float(state.get("start_time", 0.0)),
        search_state,
    )


def _checkpoints_on_disk(trial_dir: str, rows: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    """Complete checkpoints whose result was recorded (a later one was never acknowledged)."""
    try:
        names = sorted(os.listdir(trial_dir))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        iteration = checkpoint_iteration(name)
        if iteration is not None and iteration in rows:
            metrics = {k: v for k, v in rows[iteration].items() if k != "config"}
            found.append({"dirname": name, "metrics": metrics})
    return found


def _next_status(status: TrialStatus, mode: ResumeMode, trial: Trial) -> TrialStatus:
    if status == TrialStatus.TERMINATED:
        return status
    if status == TrialStatus.ERROR:
        if mode.restart_errored:
            trial.checkpoints = []
            trial.num_failures = 0
            return TrialStatus.PENDING
        return TrialStatus.PENDING if mode.resume_errored else status
    return TrialStatus.PENDING if mode.resume_unfinished else TrialStatus.TERMINATED
