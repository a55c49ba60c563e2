"""The file loggers: ``result.json`` (one JSON line per result) and ``progress.csv``.

Both keep one open file per running trial, flush it after each result (a crash loses at
most a torn last line, which readers drop) and close it when the trial ends. Each start of a
trial (the first, or again after a pause, a failure or a restore) opens its file anew in
append mode, so whoever prepares the trial's folder before the start (truncating the files
of a fresh trial, rewinding them to a checkpoint) is followed.
"""

from __future__ import annotations

import csv
import os
from typing import IO, Any

import cloudpickle

from overtone._dicts import flatten
from overtone._trial import FrozenTrial
from overtone.logger._base import LoggerCallback
from overtone.storage._files import dumps, write_json_atomic
from overtone.storage._layout import PARAMS_FILE, PARAMS_PICKLE_FILE, PROGRESS_FILE, RESULT_FILE

# Ray Tune's names for the layout's file names
EXPR_PARAM_FILE = PARAMS_FILE
EXPR_PARAM_PICKLE_FILE = PARAMS_PICKLE_FILE
EXPR_RESULT_FILE = RESULT_FILE
EXPR_PROGRESS_FILE = PROGRESS_FILE


class _PerTrialFiles(LoggerCallback):
    """One append-mode file per running trial, keyed by trial id."""

    #: the file's name in the trial's folder; a subclass may change it
    filename = ""

    def __init__(self) -> None:
        self._files: dict[str, IO[str]] = {}

    def _open(self, trial: FrozenTrial) -> IO[str]:
        os.makedirs(trial.path, exist_ok=True)
        f = open(os.path.join(trial.path, self.filename), "a", encoding="utf-8", newline="")
        self._files[trial.trial_id] = f
        return f

    def log_trial_end(self, trial: FrozenTrial, failed: bool = False) -> None:
        self._close(trial.trial_id)

    def on_experiment_end(self, trials: list[FrozenTrial], **info: Any) -> None:
        for trial_id in list(self._files):
            self._close(trial_id)

    def _close(self, trial_id: str) -> None:
        f = self._files.pop(trial_id, None)
        if f is not None:
            f.close()


class JsonLoggerCallback(_PerTrialFiles):
    """Writes each result of a trial as one JSON line to ``<trial folder>/result.json``.

    When a trial starts it also saves the trial's config as ``params.json`` (and, where the
    config can be pickled, ``params.pkl``). NaN and infinities are written as ``NaN`` and
    ``Infinity``; numpy values as plain numbers and lists; other objects as their ``repr``.
    """

    filename = EXPR_RESULT_FILE

    def log_trial_start(self, trial: FrozenTrial) -> None:
        self._close(trial.trial_id)
        os.makedirs(trial.path, exist_ok=True)
        write_json_atomic(os.path.join(trial.path, EXPR_PARAM_FILE), trial.config)
        try:
            data = cloudpickle.dumps(trial.config)
        except Exception:  # noqa: BLE001 - params.json holds the config all the same
            data = None
        if data is not None:
            with open(os.path.join(trial.path, EXPR_PARAM_PICKLE_FILE), "wb") as f:
                f.write(data)
        self._open(trial)

    def log_trial_result(self, iteration: int, trial: FrozenTrial, result: dict[str, Any]) -> None:
        f = self._files.get(trial.trial_id) or self._open(trial)
        f.write(dumps(result) + "\n")
        f.flush()


class CSVLoggerCallback(_PerTrialFiles):
    """Writes each result of a trial as one row of ``<trial folder>/progress.csv``.

    Nested results are flattened with ``/`` (``{"a": {"b": 1}}`` is column ``a/b``) and the
    config is left out. The columns are those of the trial's first result: keys that appear
    only later are not written, keys missing later are empty. A trial that starts again
    keeps the file's header.
    """

    filename = EXPR_PROGRESS_FILE

    def __init__(self) -> None:
        super().__init__()
        self._writers: dict[str, Any] = {}
        self._headers: dict[str, list[str]] = {}

    def log_trial_start(self, trial: FrozenTrial) -> None:
        self._close(trial.trial_id)
        self._open(trial)

    def _open(self, trial: FrozenTrial) -> IO[str]:
        f = super()._open(trial)
        self._writers[trial.trial_id] = csv.writer(f)
        if f.tell() > 0:  # appending after a restart: reuse the header already there
            with open(f.name, encoding="utf-8", newline="") as old:
                header = next(csv.reader([old.readline()]), None)
            if header:
                self._headers[trial.trial_id] = header
        return f

    def log_trial_result(self, iteration: int, trial: FrozenTrial, result: dict[str, Any]) -> None:
        trial_id = trial.trial_id
        f = self._files.get(trial_id) or self._open(trial)
        row = {k: v for k, v in result.items() if k != "config"}
        if any(type(v) is dict for v in row.values()):
            row = flatten(row)
        writer = self._writers[trial_id]
        header = self._headers.get(trial_id)
        if header is None:
            header = self._headers[trial_id] = list(row)
            writer.writerow(header)
        writer.writerow([row.get(k, "") for k in header])
        f.flush()

    def _close(self, trial_id: str) -> None:
        self._writers.pop(trial_id, None)
        self._headers.pop(trial_id, None)
        super()._close(trial_id)
