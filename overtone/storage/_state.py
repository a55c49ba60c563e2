"""The experiment's state files, written and loaded in one place.

``experiment_state.json`` (the trials) and ``search_state.pkl`` (the searcher's and
scheduler's state). The controller is their only writer (:func:`save_experiment_state`,
:func:`append_state_updates`, :func:`save_search_state`); restore and analysis read them back
with :func:`load_experiment_state`, which checks the state with :func:`parse_experiment_state`
(the command line's reader parses the bytes it fetched with the same function), and
:func:`load_search_state`.

Rewriting the whole state file every second costs time in proportion to the number of trials,
so between two whole writes (snapshots) the controller appends the entries of the trials that
changed to ``experiment_state.updates.jsonl``, one JSON line each:
``{"snapshot": <the snapshot's "snapshot_id">, "trial": <the trial's entry>}``. The loader reads
the snapshot, then puts each update whose ``snapshot`` matches in place of the trial's entry
(or after the others, for a new trial); the last update of a trial wins. A snapshot written
after updates makes them stale: it carries a new ``snapshot_id``, and the updates file is
removed after it. A crash between the two leaves updates with the old id, which are ignored;
a crash in an append leaves a torn last line, which is ignored too. An experiment that ended
has no updates file, so its state file alone is complete, as readers of the format-1 state
that know nothing of updates expect.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Callable
from typing import Any, TypeVar

from overtone._errors import ExperimentStateError, TuneError
from overtone._trial import TrialStatus
from overtone.storage._files import (
    atomic_file,
    dumps,
    full_disk,
    write_all,
    write_atomic,
    write_json_atomic,
)
from overtone.storage._layout import (
    FORMAT_VERSION,
    SEARCH_STATE_FILE,
    STATE_FILE,
    STATE_UPDATES_FILE,
)

T = TypeVar("T")


def save_experiment_state(experiment_path: str, state: dict[str, Any]) -> None:
    """Write ``state`` as the experiment's state file, atomically, then drop the updates
    written after the previous one (``state`` holds them all, under a new ``snapshot_id``).

    ``state["trials"]`` may be any iterable of entries (dicts, or their JSON text): they are
    encoded one at a time, so that a state of 100,000 trials is never held whole in memory, as
    a list or as a string.
    """
    path = os.path.join(experiment_path, STATE_FILE)
    trials = state.get("trials")
    if isinstance(trials, list) or trials is None:
        write_json_atomic(path, state)
    else:
        head = dumps({k: v for k, v in state.items() if k != "trials"})
        with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(head[:-1] + (', "trials": [' if len(head) > 2 else '"trials": ['))
            for i, entry in enumerate(trials):  # a str is an entry encoded already
                f.write(("," if i else "") + (entry if isinstance(entry, str) else dumps(entry)))
            f.write("]}")
            f.flush()
            os.fsync(f.fileno())
    try:
        os.remove(os.path.join(experiment_path, STATE_UPDATES_FILE))
    except FileNotFoundError:
        pass


def append_state_updates(
    experiment_path: str, snapshot_id: str, entries: list[dict[str, Any] | str]
) -> None:
    """Append trial entries that changed since the snapshot ``snapshot_id`` was written."""
    if not entries:
        return
    head = '{"snapshot": ' + dumps(snapshot_id) + ', "trial": '
    path = os.path.join(experiment_path, STATE_UPDATES_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # In pieces of ~64 KiB: no string of every changed entry at once.
            lines: list[str] = []
            size = 0
            for i, entry in enumerate(entries):  # a str is an entry encoded already
                lines.append(head + (entry if isinstance(entry, str) else dumps(entry)) + "}\n")
                size += len(lines[-1])
                if size >= 65536 or i == len(entries) - 1:
                    write_all(fd, "".join(lines).encode("utf-8"))
                    lines, size = [], 0
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:  # a torn last line is skipped by the loader
        error = full_disk(exc, path)
        if error is exc:
            raise
        raise error from exc


def apply_state_updates(state: dict[str, Any], updates: bytes) -> None:
    """Put the entries of ``experiment_state.updates.jsonl`` (its bytes) that belong to the
    state's snapshot in place of the trials' entries (new trials go last); torn or stale lines
    are skipped."""
    snapshot_id = state.get("snapshot_id")
    if snapshot_id is None or not isinstance(state.get("trials"), list):
        return
    trials: list[Any] = state["trials"]
    index = {
        e["trial_id"]: i for i, e in enumerate(trials) if isinstance(e, dict) and "trial_id" in e
    }
    for trial_id, entry in _updates_for(updates, snapshot_id).items():
        at = index.get(trial_id)
        if at is None:
            index[trial_id] = len(trials)
            trials.append(entry)
        else:
            trials[at] = entry


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


def parse_experiment_state(
    data: bytes, where: str, updates: bytes | None = None
) -> dict[str, Any]:
    """Parse and check the bytes of an ``experiment_state.json``.

    The one check of the state format: :func:`load_experiment_state` and the command line's
    reader (which may read it from a remote store) both call it.

    Args:
        data: the file's bytes.
        where: the file's path or URI, for the error messages.
        updates: the bytes of ``experiment_state.updates.jsonl`` beside it, if any: the trials
            that changed since the state file was written whole (:func:`apply_state_updates`).

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
    _check_head(state, where)
    trials = state.get("trials")
    if not isinstance(trials, list):
        raise ExperimentStateError(f"{where} is invalid: 'trials' is not a list")
    if updates:
        apply_state_updates(state, updates)
    for index, entry in enumerate(trials):
        _check_trial_entry(where, index, entry)
    return state


def _check_head(state: dict[str, Any], where: str) -> None:
    """Check the state's format version and mode."""
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


class _NotStreamable(Exception):
    """The state file is not laid out as the controller writes it: parse it whole."""


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _updates_for(updates: bytes | None, snapshot_id: Any) -> dict[str, dict[str, Any]]:
    """The last update of each trial that belongs to the snapshot ``snapshot_id``."""
    found: dict[str, dict[str, Any]] = {}
    if not updates or snapshot_id is None:
        return found
    for line in updates.splitlines():
        try:
            update = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # torn by a crash in the middle of an append
        if not isinstance(update, dict) or update.get("snapshot") != snapshot_id:
            continue
        entry = update.get("trial")
        if isinstance(entry, dict) and "trial_id" in entry:
            found[entry["trial_id"]] = entry
    return found


def _stream_state(
    text: str, where: str, updates: bytes | None, build: Callable[[dict[str, Any]], T]
) -> tuple[dict[str, Any], list[T]]:
    """Parse a state file the way the controller writes it (``trials`` after the other keys),
    handing each trial's entry to ``build`` as soon as it is decoded."""
    ws = _WHITESPACE.match
    decode = _DECODER.raw_decode
    i = ws(text, 0).end()
    if text[i : i + 1] != "{":
        raise _NotStreamable
    i = ws(text, i + 1).end()
    head: dict[str, Any] = {}
    built: list[T] | None = None
    while text[i : i + 1] != "}":
        key, i = decode(text, i)
        i = ws(text, i).end()
        if not isinstance(key, str) or text[i : i + 1] != ":":
            raise _NotStreamable
        i = ws(text, i + 1).end()
        if key == "trials" and built is None and text[i : i + 1] == "[":
            if "format_version" not in head or (updates and "snapshot_id" not in head):
                raise _NotStreamable  # the keys the trials depend on come after them
            _check_head(head, where)
            changed = _updates_for(updates, head.get("snapshot_id"))
            built = []
            i = ws(text, i + 1).end()
            while text[i : i + 1] != "]":
                entry, i = decode(text, i)
                if isinstance(entry, dict) and changed:
                    entry = changed.pop(entry.get("trial_id"), entry)  # type: ignore[arg-type]
                _check_trial_entry(where, len(built), entry)
                built.append(build(entry))
                i = ws(text, i).end()
                if text[i : i + 1] == ",":
                    i = ws(text, i + 1).end()
                elif text[i : i + 1] != "]":
                    raise _NotStreamable
            for entry in changed.values():  # trials new since the snapshot
                _check_trial_entry(where, len(built), entry)
                built.append(build(entry))
            i += 1
        elif key in ("snapshot_id", "format_version", "mode") and built is not None:
            raise _NotStreamable  # a key that the trials depend on came after them
        else:
            head[key], i = decode(text, i)
        i = ws(text, i).end()
        if text[i : i + 1] == ",":
            i = ws(text, i + 1).end()
        elif text[i : i + 1] != "}":
            raise _NotStreamable
    if built is None or text[i + 1 :].strip():
        raise _NotStreamable
    return head, built


def load_experiment_entries(
    path: str | os.PathLike[str], build: Callable[[dict[str, Any]], T]
) -> tuple[dict[str, Any], list[T]]:
    """The state of :func:`load_experiment_state` without its trials (the "head"), and
    ``build(entry)`` for each trial's entry, in order.

    The entries are decoded one at a time and handed to ``build``, which can keep them in a
    compact form: a state of 100,000 trials is never held whole as dicts.

    Raises:
        ExperimentStateError: as :func:`load_experiment_state`.
    """
    experiment_path, state_file = locate_experiment(path)
    data, updates = _read_state_files(experiment_path, state_file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        state = parse_experiment_state(data, state_file, updates)  # says what is wrong
    else:
        del data  # the text alone from here on
        try:
            return _stream_state(text, state_file, updates, build)
        except (_NotStreamable, json.JSONDecodeError, RecursionError):
            state = parse_experiment_state(text, state_file, updates)  # type: ignore[arg-type]
    trials = state.pop("trials")
    return state, [build(entry) for entry in trials]


def _read_state_files(experiment_path: str, state_file: str) -> tuple[bytes, bytes | None]:
    if not os.path.isfile(state_file):
        raise ExperimentStateError(
            f"{experiment_path} is not an experiment directory: it has no {STATE_FILE}"
        )
    updates_file = os.path.join(experiment_path, STATE_UPDATES_FILE)
    try:
        with open(state_file, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ExperimentStateError(
            f"{experiment_path} is not an experiment directory: it has no {STATE_FILE}"
        ) from None
    try:
        with open(updates_file, "rb") as f:
            updates: bytes | None = f.read()
    except FileNotFoundError:
        updates = None
    return data, updates


def load_experiment_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check an experiment's ``experiment_state.json`` (:func:`parse_experiment_state`).

    Args:
        path: the experiment directory, or the path of its ``experiment_state.json``.

    Raises:
        ExperimentStateError: (a ``TuneError`` and a ``ValueError``) if the directory holds no
            experiment, or its state file is corrupted or of an unknown format.
    """
    experiment_path, state_file = locate_experiment(path)
    data, updates = _read_state_files(experiment_path, state_file)
    return parse_experiment_state(data, state_file, updates)
