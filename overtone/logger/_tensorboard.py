"""TensorBoard logging: scalars per result and an HParams session per trial."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from overtone._dicts import flatten
from overtone._trial import FrozenTrial
from overtone.logger import _tfevents as tfevents
from overtone.logger._base import NON_METRIC_KEYS, LoggerCallback, is_number
from overtone.logger._tfevents import EventFile, ScalarEncoder

#: Logged as scalars but left out of the HParams table, where they would only add columns.
HPARAMS_SKIPPED_METRICS = frozenset(
    {
        "time_this_iter_s", "time_since_restore", "iterations_since_restore",
        "timesteps_since_restore", "timesteps_this_iter", "episodes_this_iter", "warmup_time",
    }
)  # fmt: skip

_EXPERIMENT_TAG = "_hparams_/experiment"
_SESSION_START_TAG = "_hparams_/session_start_info"
_SESSION_END_TAG = "_hparams_/session_end_info"


@dataclass
class _TrialLog:
    name: str  # the event file's, in the trial's folder
    start_time: float
    file: EventFile | None = None  # opened at the first result, or at the end
    metrics: dict[str, Any] = field(default_factory=dict)  # every scalar tag seen, last value
    step: int = 0
    hparams: dict[str, bool | float | str] | None = None  # the config's, once worked out


class TBXLoggerCallback(LoggerCallback):
    """Writes one TensorBoard event file per trial, in the trial's folder.

    Every numeric value of a result becomes a scalar at step ``training_iteration``; nested
    metrics are flattened with ``/`` (``{"eval": {"loss": 1}}`` is ``eval/loss``), numeric
    lists and arrays become histograms, and bookkeeping keys (``config``, ``date``,
    ``hostname``, ``pid``, ``trial_id``, ``timestamp``, ``done``, ...) are left out. The
    HParams plugin gets the trial's config (flattened; values other than numbers, booleans
    and strings as text) when the trial starts, and the metrics and the trial's outcome when
    it ends, so that TensorBoard's HParams tab lists one session per trial.

    The event files are written directly (see :mod:`overtone.logger._tfevents`), so no
    TensorBoard library is imported; it is a default logger where tensorboardX or TensorBoard
    is installed (``pip install 'overtone[tensorboard]'``), to view the files with.

    Example::

        tune.run(train, config=space, callbacks=[TBXLoggerCallback()])
        # then: tensorboard --logdir ~/overtone_results
    """

    # The event file is opened when the first result comes (the worker has created it by
    # then, see ``_trial_files``), not at the trial's start.
    _needs_trial_dir_at_start = False

    def __init__(self) -> None:
        self._encoder = ScalarEncoder()
        self._trials: dict[str, _TrialLog] = {}

    # -- hooks ----------------------------------------------------------------------------
    def _trial_files(self, trial: FrozenTrial) -> list[str]:
        return [self._log(trial).name]

    def log_trial_start(self, trial: FrozenTrial) -> None:
        self._log(trial)

    def log_trial_result(self, iteration: int, trial: FrozenTrial, result: dict[str, Any]) -> None:
        log = self._log(trial)
        file = log.file or self._open(trial, log)
        step = result.get("training_iteration")
        if type(step) is not int:
            step = log.step + 1
        log.step = step
        scalars: dict[str, float] = {}
        arrays: dict[str, Any] = {}
        _collect(result, "", scalars, arrays)
        now = time.time()
        file.write(self._encoder.encode(step, scalars, now))
        for tag, values in arrays.items():
            histogram = _histogram(tag, values)
            if histogram is not None:
                file.write(tfevents.event(step, now, [histogram]))
        file.flush()
        log.metrics.update(scalars)

    def log_trial_end(self, trial: FrozenTrial, failed: bool = False) -> None:
        log = self._trials.pop(trial.trial_id, None)
        if log is not None:
            self._end(trial, log, "failure" if failed else "success")

    def on_experiment_end(self, trials: list[FrozenTrial], **info: Any) -> None:
        if not self._trials:
            return  # every log was closed as its trial ended: no need to look at the trials
        # Only the trials whose log is open (a trial's snapshot may be read back from disk).
        by_id = {t.trial_id: t for t in trials if t.trial_id in self._trials}
        for trial_id in list(self._trials):
            log = self._trials.pop(trial_id)
            trial = by_id.get(trial_id)
            if trial is not None:  # still running when the experiment stopped (Ctrl-C)
                self._end(trial, log, "unknown")
            elif log.file is not None:
                log.file.close()

    # -- files ----------------------------------------------------------------------------
    def _log(self, trial: FrozenTrial) -> _TrialLog:
        log = self._trials.get(trial.trial_id)
        if log is None:
            log = _TrialLog(tfevents.event_file_name(), time.time())
            self._trials[trial.trial_id] = log
        return log

    def _open(self, trial: FrozenTrial, log: _TrialLog) -> EventFile:
        """Open the trial's event file with its session start; written at the next flush
        (the result's that opened it, or the end's)."""
        file = log.file = EventFile(trial.path, name=log.name)
        log.hparams = hparams_of(trial.config)
        content = tfevents.hparams_session_start(log.hparams, log.start_time)
        file.write(
            tfevents.event(log.step, time.time(), [_plugin_value(_SESSION_START_TAG, content)])
        )
        return file

    def _end(self, trial: FrozenTrial, log: _TrialLog, status: str) -> None:
        file = log.file or self._open(trial, log)
        try:
            types = {
                key: "bool" if isinstance(value, bool)
                else "float64" if isinstance(value, float)
                else "string"
                for key, value in (log.hparams or {}).items()
            }  # fmt: skip
            metrics = [tag for tag in log.metrics if tag not in HPARAMS_SKIPPED_METRICS]
            now = time.time()
            experiment = tfevents.hparams_experiment(types, metrics, log.start_time)
            end = tfevents.hparams_session_end(status, now)
            file.write(  # both in one event
                tfevents.event(
                    log.step,
                    now,
                    [
                        _plugin_value(_EXPERIMENT_TAG, experiment),
                        _plugin_value(_SESSION_END_TAG, end),
                    ],
                )
            )
        finally:
            file.close()


def _plugin_value(tag: str, content: bytes) -> bytes:
    return tfevents.plugin_value(tag, tfevents.HPARAMS_PLUGIN, content)


def _histogram(tag: str, values: Any) -> bytes | None:
    import numpy as np

    try:
        data = np.asarray(values, dtype=float).ravel()
        data = data[np.isfinite(data)]
        if data.size == 0:
            return None
        counts, edges = np.histogram(data, bins=min(30, max(1, data.size)))
    except (TypeError, ValueError):
        return None  # not numbers after all: nothing to draw
    stats = (
        float(data.min()), float(data.max()), float(data.size), float(data.sum()),
        float(np.dot(data, data)),
    )  # fmt: skip
    limits = [float(e) for e in edges[1:]]
    return tfevents.histogram_value(tag, stats, limits, [float(c) for c in counts])


def hparams_of(config: dict[str, Any]) -> dict[str, bool | float | str]:
    """The config as HParams values: flattened with ``/``; numbers as floats, booleans and
    strings as they are, functions by name, anything else as its text; None left out."""
    out: dict[str, bool | float | str] = {}
    for key, value in flatten(config).items():
        if value is None:
            continue
        if isinstance(value, (bool, str)):
            out[key] = value
        elif is_number(value):
            out[key] = float(value)
        elif callable(value):
            out[key] = str(getattr(value, "__name__", value))
        else:
            out[key] = str(value)
    return out


def _collect(
    values: dict[str, Any], prefix: str, scalars: dict[str, float], arrays: dict[str, Any]
) -> None:
    """Sort a result's entries into scalars and arrays, flattening nested dicts."""
    for key, value in values.items():
        if not prefix and key in NON_METRIC_KEYS:
            continue
        tag = f"{prefix}{key}"
        kind = type(value)
        if kind is float or kind is int:
            scalars[tag] = value
        elif kind is bool:
            scalars[tag] = float(value)
        elif kind is dict:
            _collect(value, tag + "/", scalars, arrays)
        elif is_number(value):
            scalars[tag] = float(value)
        elif kind is list or kind is tuple or getattr(value, "ndim", None):
            if len(value):
                arrays[tag] = value
        elif isinstance(value, dict):
            _collect(value, tag + "/", scalars, arrays)
