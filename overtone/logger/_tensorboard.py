"""TensorBoard logging: scalars per result and an HParams session per trial."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from overtone._trial import FrozenTrial
from overtone.logger._base import NON_METRIC_KEYS, LoggerCallback, is_number
from overtone.logger._tfevents import (
    EventFile,
    ScalarEncoder,
    backend_available,
    load_protos,
)
from overtone.storage._files import flatten

#: Logged as scalars but left out of the HParams table, where they would only add columns.
HPARAMS_SKIPPED_METRICS = frozenset(
    {
        "time_this_iter_s", "time_since_restore", "iterations_since_restore",
        "timesteps_since_restore", "timesteps_this_iter", "episodes_this_iter", "warmup_time",
    }
)  # fmt: skip

_HPARAMS_PLUGIN = "hparams"
_EXPERIMENT_TAG = "_hparams_/experiment"
_SESSION_START_TAG = "_hparams_/session_start_info"
_SESSION_END_TAG = "_hparams_/session_end_info"


@dataclass
class _TrialLog:
    file: EventFile
    start_time: float
    metrics: dict[str, Any] = field(default_factory=dict)  # every scalar tag seen, last value
    step: int = 0


class TBXLoggerCallback(LoggerCallback):
    """Writes one TensorBoard event file per trial, in the trial's folder.

    Every numeric value of a result becomes a scalar at step ``training_iteration``; nested
    metrics are flattened with ``/`` (``{"eval": {"loss": 1}}`` is ``eval/loss``), numeric
    lists and arrays become histograms, and bookkeeping keys (``config``, ``date``,
    ``hostname``, ``pid``, ``trial_id``, ``timestamp``, ``done``, ...) are left out. The
    HParams plugin gets the trial's config (flattened; values other than numbers, booleans
    and strings as text) when the trial starts, and the metrics and the trial's outcome when
    it ends, so that TensorBoard's HParams tab lists one session per trial.

    Needs tensorboardX (preferred) or TensorBoard: ``pip install 'overtone[tensorboard]'``.

    Example::

        tune.run(train, config=space, callbacks=[TBXLoggerCallback()])
        # then: tensorboard --logdir ~/overtone_results
    """

    def __init__(self, backend: str | None = None) -> None:
        """Args: backend: ``"tensorboardX"`` or ``"tensorboard"``, whose protobuf classes
        write the HParams data; None takes tensorboardX when installed."""
        chosen = backend if backend is not None else backend_available()
        if chosen is None:
            raise ImportError(
                "TBXLoggerCallback needs tensorboardX or tensorboard: "
                "pip install 'overtone[tensorboard]'"
            )
        self._backend = chosen
        self._protos: Any = None
        self._encoder = ScalarEncoder()
        self._trials: dict[str, _TrialLog] = {}

    # -- hooks ----------------------------------------------------------------------------
    def log_trial_start(self, trial: FrozenTrial) -> None:
        if trial.trial_id not in self._trials:
            self._open(trial)

    def log_trial_result(self, iteration: int, trial: FrozenTrial, result: dict[str, Any]) -> None:
        log = self._trials.get(trial.trial_id) or self._open(trial)
        step = result.get("training_iteration")
        if type(step) is not int:
            step = log.step + 1
        log.step = step
        scalars: dict[str, float] = {}
        arrays: dict[str, Any] = {}
        _collect(result, "", scalars, arrays)
        now = time.time()
        log.file.write(self._encoder.encode(step, scalars, now))
        for tag, values in arrays.items():
            event = self._histogram_event(tag, values, step, now)
            if event is not None:
                log.file.write(event)
        log.file.flush()
        log.metrics.update(scalars)

    def log_trial_end(self, trial: FrozenTrial, failed: bool = False) -> None:
        log = self._trials.pop(trial.trial_id, None)
        if log is None:
            return
        status = "STATUS_FAILURE" if failed else "STATUS_SUCCESS"
        self._end(trial, log, status)

    def on_experiment_end(self, trials: list[FrozenTrial], **info: Any) -> None:
        by_id = {t.trial_id: t for t in trials}
        for trial_id in list(self._trials):
            log = self._trials.pop(trial_id)
            trial = by_id.get(trial_id)
            if trial is None:
                log.file.close()
            else:  # still running when the experiment stopped, for example on Ctrl-C
                self._end(trial, log, "STATUS_UNKNOWN")

    # -- files ----------------------------------------------------------------------------
    def _open(self, trial: FrozenTrial) -> _TrialLog:
        log = _TrialLog(file=EventFile(trial.path), start_time=time.time())
        self._trials[trial.trial_id] = log
        start = self._pb().SessionStartInfo(start_time_secs=log.start_time)
        for key, value in hparams_of(trial.config).items():
            _set_value(start.hparams[key], value)
        self._write_plugin_data(log, _SESSION_START_TAG, session_start_info=start)
        log.file.flush()
        return log

    def _end(self, trial: FrozenTrial, log: _TrialLog, status: str) -> None:
        try:
            self._write_experiment(trial, log)
            pb = self._pb()
            end = pb.SessionEndInfo(status=pb.Status.Value(status), end_time_secs=time.time())
            self._write_plugin_data(log, _SESSION_END_TAG, session_end_info=end)
        finally:
            log.file.close()

    def _write_experiment(self, trial: FrozenTrial, log: _TrialLog) -> None:
        pb = self._pb()
        infos = []
        for key, value in hparams_of(trial.config).items():
            kind = (
                "DATA_TYPE_BOOL" if isinstance(value, bool)
                else "DATA_TYPE_FLOAT64" if isinstance(value, float)
                else "DATA_TYPE_STRING"
            )  # fmt: skip
            infos.append(pb.HParamInfo(name=key, type=pb.DataType.Value(kind)))
        metrics = [
            pb.MetricInfo(name=pb.MetricName(tag=tag))
            for tag in log.metrics
            if tag not in HPARAMS_SKIPPED_METRICS
        ]
        experiment = pb.Experiment(
            time_created_secs=log.start_time, hparam_infos=infos, metric_infos=metrics
        )
        self._write_plugin_data(log, _EXPERIMENT_TAG, experiment=experiment)

    def _write_plugin_data(self, log: _TrialLog, tag: str, **content: Any) -> None:
        pb = self._pb()
        data = pb.HParamsPluginData(version=0, **content).SerializeToString()
        metadata = pb.SummaryMetadata(
            plugin_data=pb.SummaryMetadata.PluginData(plugin_name=_HPARAMS_PLUGIN, content=data)
        )
        # TensorBoard's own HParams summaries carry an empty float tensor: do the same.
        empty = pb.TensorProto(
            dtype=pb.DT_FLOAT,
            tensor_shape=pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=0)]),
        )
        value = pb.Summary.Value(tag=tag, metadata=metadata, tensor=empty)
        event = pb.Event(wall_time=time.time(), step=log.step, summary=pb.Summary(value=[value]))
        log.file.write(event.SerializeToString())

    def _histogram_event(self, tag: str, values: Any, step: int, now: float) -> bytes | None:
        import numpy as np

        try:
            data = np.asarray(values, dtype=float).ravel()
            data = data[np.isfinite(data)]
            if data.size == 0:
                return None
            counts, edges = np.histogram(data, bins=min(30, max(1, data.size)))
        except (TypeError, ValueError):
            return None  # not numbers after all: nothing to draw
        pb = self._pb()
        histo = pb.HistogramProto(
            min=float(data.min()),
            max=float(data.max()),
            num=float(data.size),
            sum=float(data.sum()),
            sum_squares=float(np.dot(data, data)),
            bucket_limit=[float(e) for e in edges[1:]],
            bucket=[float(c) for c in counts],
        )
        summary = pb.Summary(value=[pb.Summary.Value(tag=tag, histo=histo)])
        return pb.Event(wall_time=now, step=step, summary=summary).SerializeToString()  # type: ignore[no-any-return]

    def _pb(self) -> Any:
        if self._protos is None:
            self._protos = load_protos(self._backend)
        return self._protos


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


def _set_value(target: Any, value: bool | float | str) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, float):
        target.number_value = value
    else:
        target.string_value = value


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
        elif kind is list or kind is tuple or getattr(value, "ndim", 0):
            if len(value):
                arrays[tag] = value
        elif isinstance(value, dict):
            _collect(value, tag + "/", scalars, arrays)
