"""Rebuilding an experiment from its directory, to continue it after a stop or a crash."""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass, field
from typing import Any

from overtone._errors import TuneError
from overtone._trial import Resources, TrialStatus
from overtone._trial_state import Trial
from overtone.storage._files import STATE_FILE

SEARCH_STATE_FILE = "search_state.pkl"
TUNER_FILE = "tuner.pkl"
_CHECKPOINT = re.compile(r"checkpoint_(\d{6})")


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
    from overtone.analysis import load_experiment_state
    from overtone.analysis._trial_record import read_results

    state = load_experiment_state(path)  # clear errors for a missing or corrupted state
    path = os.path.dirname(os.path.join(os.path.abspath(os.path.expanduser(path)), STATE_FILE))
    trials: list[Trial] = []
    count, prefix = 0, ""
    for entry in state["trials"]:
        trial = Trial(
            entry["trial_id"],
            entry["trial_name"],
            entry["dirname"],
            path,
            entry["config"],
            Resources.coerce(entry.get("resources")),
            entry.get("experiment_tag", ""),
            entry.get("trainable_name", ""),
        )
        trial.num_failures = int(entry.get("num_failures", 0))
        trial.error_file = entry.get("error_file")
        trial.out_of_space = bool(entry.get("out_of_space", False))
        rows = read_results(os.path.join(trial.path, "result.json"))
        by_iteration = {r.get("training_iteration"): r for r in rows}
        trial.checkpoints = _checkpoints_on_disk(trial.path, by_iteration)
        if rows:
            trial.last_result = {**rows[-1], "config": trial.config}
            trial.runs = 1
        elif trial.checkpoints:
            trial.runs = 1
        trial.status = _next_status(TrialStatus(entry["status"]), mode, trial)
        if trial.status.is_finished() and trial.last_result:
            trial.last_result["done"] = True
        trials.append(trial)
        head, _, index = trial.trial_id.rpartition("_")
        prefix = prefix or head
        if index.isdigit():
            count = max(count, int(index) + 1)
    search_state = None
    search_file = os.path.join(path, SEARCH_STATE_FILE)
    if os.path.exists(search_file):
        try:
            with open(search_file, "rb") as f:
                search_state = pickle.load(f)
        except Exception as exc:  # noqa: BLE001 - any unreadable state means the same here
            raise TuneError(f"{search_file} is corrupted: {type(exc).__name__}: {exc}") from exc
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
        match = _CHECKPOINT.fullmatch(name)
        if match and int(match.group(1)) in rows:
            metrics = {k: v for k, v in rows[int(match.group(1))].items() if k != "config"}
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
