"""The experiment's state files, written and loaded in one place.

``experiment_state.json`` (the trials) and ``search_state.pkl`` (the searcher's and
scheduler's state). The controller is their only writer (:func:`save_experiment_state`,
:func:`save_search_state`); restore and analysis read them back with
:func:`load_experiment_state`, which checks the state with :func:`parse_experiment_state`
(the command line's reader parses the bytes it fetched with the same function), and
:func:`load_search_state`.
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any

from overtone._errors import ExperimentStateError, TuneError
from overtone._trial import TrialStatus
from overtone.storage._files import write_atomic, write_json_atomic
from overtone.storage._layout import FORMAT_VERSION, SEARCH_STATE_FILE, STATE_FILE


def save_experiment_state(experiment_path: str, state: dict[str, Any]) -> None:
    """Write ``state`` as the experiment's state file, atomically."""
    write_json_atomic(os.path.join(experiment_path, STATE_FILE), state)


def save_search_state(experiment_path: str, data: bytes) -> None:
    """Write the pickled search state (searcher, scheduler), atomically."""
    write_atomic(os.path.join(experiment_path, SEARCH_STATE_FILE), data)


def load_search_state(experiment_path: str) -> dict[str, Any] | None:
    """The search state :func:`save_search_state` wrote; None if there is none.

    Raises:
        TuneError: the file is there but cannot be unpickled.
    """
    search_file = os.path.join(experiment_path, SEARCH_STATE_FILE)
    if not os.path.exists(search_file):
        return None
    try:
        with open(search_file, "rb") as f:
            return pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - any unreadable state means the same here
        raise TuneError(f"{search_file} is corrupted: {type(exc).__name__}: {exc}") from exc


def locate_experiment(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(experiment directory, state file) for a directory or the state file's own path."""
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.basename(path) == STATE_FILE and os.path.isfile(path):
        return os.path.dirname(path), path
    return path, os.path.join(path, STATE_FILE)


def _check_trial_entry(state_file: str, index: int, entry: Any) -> None:
    def invalid(why: str) -> ExperimentStateError:
        return ExperimentStateError(f"{state_file} is invalid: trials[{index}] {why}")

    if not isinstance(entry, dict):
        raise invalid(f"is {type(entry).__name__}, not an object")
    for key in ("trial_id", "dirname", "status"):
        if key not in entry:
            raise invalid(f"has no {key!r}")
    if entry["status"] not in TrialStatus.__members__:
        allowed = list(TrialStatus.__members__)
        raise invalid(f"has status {entry['status']!r}, but it must be one of {allowed}")
    for key in ("config", "last_result"):
        if not isinstance(entry.get(key) or {}, dict):
            raise invalid(f"has a {key!r} that is not an object")
    checkpoints = entry.get("checkpoints") or []
    if not isinstance(checkpoints, list) or not all(
        isinstance(c, dict) and "dirname" in c for c in checkpoints
    ):
        raise invalid("has 'checkpoints' that are not a list of objects with a 'dirname'")


def parse_experiment_state(data: bytes, where: str) -> dict[str, Any]:
    """Parse and check the bytes of an ``experiment_state.json``.

    The one check of the state format: :func:`load_experiment_state` and the command line's
    reader (which may read it from a remote store) both call it.

    Args:
        data: the file's bytes.
        where: the file's path or URI, for the error messages.

    Raises:
        ExperimentStateError: the state is corrupted or of an unknown format.
    """
    try:
        state = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExperimentStateError(f"{where} is corrupted: {exc}") from exc
    if not isinstance(state, dict):
        raise ExperimentStateError(
            f"{where} is corrupted: it holds a {type(state).__name__}, not an object"
        )
    version = state.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ExperimentStateError(
            f"{where} has format_version {version!r} (written by overtone "
            f"{state.get('overtone_version', 'unknown')}), but this overtone reads only "
            f"format_version {FORMAT_VERSION}"
        )
    modes = state.get("mode")
    for mode in modes if isinstance(modes, list) else [modes]:  # a list: several metrics
        if mode not in (None, "min", "max"):
            raise ExperimentStateError(
                f"{where} is invalid: mode is {modes!r}, but must be 'min' or 'max' "
                "(or a list of them)"
            )
    trials = state.get("trials")
    if not isinstance(trials, list):
        raise ExperimentStateError(f"{where} is invalid: 'trials' is not a list")
    for index, entry in enumerate(trials):
        _check_trial_entry(where, index, entry)
    return state


def load_experiment_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check an experiment's ``experiment_state.json`` (:func:`parse_experiment_state`).

    Args:
        path: the experiment directory, or the path of its ``experiment_state.json``.

    Raises:
        ExperimentStateError: (a ``TuneError`` and a ``ValueError``) if the directory holds no
            experiment, or its state file is corrupted or of an unknown format.
    """
    experiment_path, state_file = locate_experiment(path)
    if not os.path.isfile(state_file):
        raise ExperimentStateError(
            f"{experiment_path} is not an experiment directory: it has no {STATE_FILE}"
        )
    with open(state_file, "rb") as f:
        data = f.read()
    return parse_experiment_state(data, state_file)
