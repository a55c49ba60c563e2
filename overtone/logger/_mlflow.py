"""MLflow: a run per trial from the driver (``MLflowLoggerCallback``), or from inside a
trainable (``setup_mlflow``)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from overtone._dicts import flatten
from overtone._trial import FrozenTrial
from overtone.logger._background import BackgroundWorker
from overtone.logger._base import LoggerCallback, metric_items
from overtone.runtime import current_trial, on_trial_exit

_MAX_PARAMS_PER_BATCH = 100
_MAX_METRICS_PER_BATCH = 1000
_BAD_KEY_CHARS = re.compile(r"[^\w.\- :/]")


def _import_mlflow(what: str) -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError(f"{what} needs mlflow: pip install 'overtone[mlflow]'") from exc
    return mlflow


class MLflowLoggerCallback(LoggerCallback):
    """Logs each trial as an MLflow run: its config as params, each result's numbers as
    metrics at step ``training_iteration``, and, with ``save_artifact``, the trial's folder
    as artifacts when it ends.

    Requests go to MLflow from a background thread, many results at a time, so a slow
    tracking server does not slow the experiment; when the experiment ends the callback
    waits (up to ``flush_timeout_s``) until everything is logged.

    Args:
        tracking_uri: where runs are stored (``sqlite:///mlflow.db``, ``http://host:5000``,
            a folder); None uses ``MLFLOW_TRACKING_URI`` or MLflow's default.
        registry_uri: the model registry's URI, if it differs.
        experiment_name: the MLflow experiment, created when missing; None uses
            ``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID`` or the default experiment.
        tags: tags for every run (each run also gets ``trial_name`` and ``trial_id``).
        tracking_token: a token for the tracking server (sets ``MLFLOW_TRACKING_TOKEN``).
        save_artifact: upload the trial's folder as the run's artifacts when it ends.
        flush_timeout_s: the longest wait at the experiment's end for pending requests.

    Example::

        tune.run(train, config=space, callbacks=[
            MLflowLoggerCallback(tracking_uri="sqlite:///mlflow.db", experiment_name="lr"),
        ])
    """

    _needs_trial_dir_at_start = False  # nothing is written there when a trial starts

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        registry_uri: str | None = None,
        experiment_name: str | None = None,
        tags: dict[str, Any] | None = None,
        tracking_token: str | None = None,
        save_artifact: bool = False,
        flush_timeout_s: float = 120.0,
    ) -> None:
        if flush_timeout_s < 0:
            raise ValueError(f"flush_timeout_s is {flush_timeout_s!r}, but must be >= 0")
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.experiment_name = experiment_name
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.tracking_token = tracking_token
        self.save_artifact = save_artifact
        self.flush_timeout_s = flush_timeout_s
        self.experiment_id: str | None = None
        self._client: Any = None
        self._setup_error: BaseException | None = None
        self._open: set[str] = set()  # trials with a run not yet ended
        self._run_ids: dict[str, str] = {}  # trial id -> run id; filled by the worker
        self._worker = BackgroundWorker("MLflowLoggerCallback", self._handle)

    # -- setup ----------------------------------------------------------------------------
    def setup(self, stop: Any = None, num_samples: int | None = None, **info: Any) -> None:
        self._ensure()

    def _ensure(self) -> None:
        if self._client is not None:
            return
        if self._setup_error is not None:
            raise RuntimeError(
                "MLflowLoggerCallback could not be set up, so it logs nothing"
            ) from self._setup_error
        try:
            self._client, self.experiment_id = self._connect()
        except Exception as exc:
            self._setup_error = exc
            raise

    def _connect(self) -> tuple[Any, str | None]:
        mlflow = _import_mlflow("MLflowLoggerCallback")
        if self.tracking_token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.tracking_token
        client = mlflow.MlflowClient(
            tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
        )
        name = self.experiment_name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        if name:
            return client, _get_or_create_experiment(client, name, create=True)
        experiment_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if experiment_id:
            if client.get_experiment(experiment_id) is None:
                raise ValueError(f"MLFLOW_EXPERIMENT_ID is {experiment_id!r}: no such experiment")
            return client, experiment_id
        default = client.get_experiment_by_name("Default")
        return client, default.experiment_id if default is not None else None

    # -- hooks: queue the work --------------------------------------------------------------
    def log_trial_start(self, trial: FrozenTrial) -> None:
        self._ensure()
        if trial.trial_id in self._open:  # restarted after a pause or a failure: same run
            return
        self._open.add(trial.trial_id)
        tags = {**self.tags, "trial_name": trial.trial_name, "trial_id": trial.trial_id}
        self._worker.submit(("start", trial.trial_id, trial.trial_name, trial.config, tags))

    def log_trial_result(self, iteration: int, trial: FrozenTrial, result: dict[str, Any]) -> None:
        if trial.trial_id not in self._open:
            self.log_trial_start(trial)
        step = result.get("training_iteration", iteration)
        now = int(time.time() * 1000)
        values = metric_items(flatten({k: v for k, v in result.items() if k != "config"}))
        self._worker.submit(("metrics", trial.trial_id, step, now, values))

    def log_trial_end(self, trial: FrozenTrial, failed: bool = False) -> None:
        if trial.trial_id not in self._open:
            return
        self._open.discard(trial.trial_id)
        artifacts = trial.path if self.save_artifact and os.path.isdir(trial.path) else None
        status = "FAILED" if failed else "FINISHED"
        self._worker.submit(("end", trial.trial_id, status, artifacts))

    def on_experiment_end(self, trials: list[FrozenTrial], **info: Any) -> None:
        for trial_id in list(self._open):  # still running when the experiment stopped
            self._open.discard(trial_id)
            self._worker.submit(("end", trial_id, "KILLED", None))
        self._worker.stop(self.flush_timeout_s)

    # -- the worker thread ------------------------------------------------------------------
    def _handle(self, items: list[Any]) -> None:
        pending: dict[str, list[Any]] = {}
        for item in items:
            if item[0] == "metrics":
                pending.setdefault(item[1], []).append(item)
                continue
            self._send_metrics(pending)  # a run's metrics go before its end
            pending = {}
            try:
                if item[0] == "start":
                    self._start_run(*item[1:])
                else:
                    self._end_run(*item[1:])
            except Exception:  # noqa: BLE001 - reported; the other trials go on
                self._worker.report_failure()
        self._send_metrics(pending)

    def _start_run(self, trial_id: str, name: str, config: dict[str, Any], tags: Any) -> None:
        run = self._client.create_run(self.experiment_id, tags=tags, run_name=name)
        run_id = run.info.run_id
        self._run_ids[trial_id] = run_id
        _log_params(self._client, run_id, config)

    def _send_metrics(self, pending: dict[str, list[Any]]) -> None:
        from mlflow.entities import Metric

        for trial_id, items in pending.items():
            run_id = self._run_ids.get(trial_id)
            if run_id is None:
                continue  # its run could not be created: already reported
            metrics = [
                Metric(_clean_key(key), value, now, step)
                for _, _, step, now, values in items
                for key, value in values.items()
            ]
            try:
                for i in range(0, len(metrics), _MAX_METRICS_PER_BATCH):
                    chunk = metrics[i : i + _MAX_METRICS_PER_BATCH]
                    self._client.log_batch(run_id, metrics=chunk)
            except Exception:  # noqa: BLE001 - reported; the other trials go on
                self._worker.report_failure()

    def _end_run(self, trial_id: str, status: str, artifacts: str | None) -> None:
        run_id = self._run_ids.pop(trial_id, None)
        if run_id is None:
            return
        try:
            if artifacts is not None:
                self._client.log_artifacts(run_id, artifacts)
        finally:
            self._client.set_terminated(run_id, status=status)


def setup_mlflow(
    config: dict[str, Any] | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    tracking_token: str | None = None,
    artifact_location: str | None = None,
    run_name: str | None = None,
    create_experiment_if_not_exists: bool = False,
    tags: dict[str, Any] | None = None,
    rank_zero_only: bool = True,
) -> Any:
    """Start an MLflow run for the trial that calls it, log ``config`` as its params, and
    return the ``mlflow`` module, so that ``mlflow.log_metric(...)`` logs to that run.

    Inside a trial the run is named after the trial (unless ``run_name`` is given), tagged
    with ``trial_id`` and ``trial_name``, and ended when the trial's function returns.
    ``experiment_id``/``experiment_name`` default to ``MLFLOW_EXPERIMENT_ID`` /
    ``MLFLOW_EXPERIMENT_NAME``; a named experiment that does not exist is an error unless
    ``create_experiment_if_not_exists``. ``rank_zero_only`` is accepted for compatibility:
    every Overtone trial is rank 0.

    Example::

        def train(config):
            mlflow = setup_mlflow(config, tracking_uri="sqlite:///mlflow.db",
                                  experiment_name="lr", create_experiment_if_not_exists=True)
            for step in range(10):
                mlflow.log_metric("loss", config["lr"] / (step + 1), step=step)
    """
    mlflow = _import_mlflow("setup_mlflow")
    trial = current_trial()
    if tracking_token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = tracking_token
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    if registry_uri:
        mlflow.set_registry_uri(registry_uri)
    client = mlflow.MlflowClient()
    experiment_id = experiment_id or os.environ.get("MLFLOW_EXPERIMENT_ID")
    experiment_name = experiment_name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if experiment_id:
        if client.get_experiment(experiment_id) is None:
            raise ValueError(f"experiment_id is {experiment_id!r}, but no such experiment exists")
    elif experiment_name:
        experiment_id = _get_or_create_experiment(
            client, experiment_name, create_experiment_if_not_exists, artifact_location
        )
    active = mlflow.active_run()
    if active is not None and active.info.run_id in _OPENED:
        mlflow.end_run()  # the previous trial of this worker left it open
    run_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if trial.trial_id is not None:
        run_tags.setdefault("trial_id", trial.trial_id)
        run_tags.setdefault("trial_name", str(trial.trial_name))
    run = mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name or trial.trial_name, tags=run_tags or None
    )
    run_id = run.info.run_id
    _OPENED.add(run_id)
    if config:
        _log_params(client, run_id, config)
    on_trial_exit(lambda: _end_opened_run(run_id))
    return mlflow


_OPENED: set[str] = set()  # runs that setup_mlflow started in this process


def _end_opened_run(run_id: str) -> None:
    import mlflow

    if run_id not in _OPENED:
        return
    _OPENED.discard(run_id)
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        mlflow.end_run()
    else:
        run = mlflow.MlflowClient().get_run(run_id)
        if run.info.status == "RUNNING":
            mlflow.MlflowClient().set_terminated(run_id)


def _get_or_create_experiment(
    client: Any, name: str, create: bool, artifact_location: str | None = None
) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    if not create:
        raise ValueError(
            f"experiment_name is {name!r}, but no such MLflow experiment exists: create it, or "
            "pass create_experiment_if_not_exists=True"
        )
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    except Exception:
        # Another trial may have created it since we looked.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


def _log_params(client: Any, run_id: str, config: dict[str, Any]) -> None:
    from mlflow.entities import Param

    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH as limit
    except ImportError:
        limit = 500
    params = [Param(_clean_key(key), str(value)[:limit]) for key, value in flatten(config).items()]
    for i in range(0, len(params), _MAX_PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[i : i + _MAX_PARAMS_PER_BATCH])


def _clean_key(key: str) -> str:
    """A key MLflow accepts: letters, digits and ``_ - . space : /``; no leading ``/``."""
    cleaned = _BAD_KEY_CHARS.sub("_", key).replace("..", "_.").lstrip("/")
    return cleaned or "_"
