"""Weights & Biases: a run per trial from the driver (``WandbLoggerCallback``), or from
inside a trainable (``setup_wandb``)."""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

from overtone._dicts import flatten
from overtone._trial import FrozenTrial
from overtone.logger._background import BackgroundWorker
from overtone.logger._base import LoggerCallback, experiment_name_of, is_number
from overtone.runtime import current_trial, on_trial_exit

#: Result keys that describe the trial rather than measure it: they go to the run's config.
_TO_CONFIG = ("trial_id", "experiment_tag", "node_ip", "experiment_id", "hostname", "pid", "date")
_NEVER_LOGGED = ("done", "should_checkpoint", "config")


def _import_wandb(what: str) -> Any:
    try:
        import wandb
    except ImportError as exc:
        raise ImportError(f"{what} needs wandb: pip install 'overtone[wandb]'") from exc
    return wandb


def _set_api_key(api_key_file: str | None, api_key: str | None) -> None:
    if api_key_file and api_key:
        raise ValueError(
            "api_key_file and api_key are both set, but only one may be: pass the key or the "
            "file that holds it"
        )
    if api_key_file:
        with open(os.path.expanduser(api_key_file), encoding="utf-8") as f:
            api_key = f.readline().strip()
    if api_key:
        os.environ["WANDB_API_KEY"] = api_key


class WandbLoggerCallback(LoggerCallback):
    """Logs each trial as a Weights & Biases run (``id`` = trial id, ``name`` = trial name,
    ``group`` = the experiment), with the trial's config as the run's config and each
    result's numbers (flattened with ``/``) as a history row; ``training_iteration`` is the
    x-axis of the charts.

    W&B is called from a background thread (``wandb.init`` takes seconds), one run per
    trial, several open at once (``reinit="create_new"``). Set ``WANDB_MODE=offline`` to log
    without a network; ``wandb sync`` uploads later.

    Args:
        project: the W&B project; None uses ``WANDB_PROJECT`` or W&B's default.
        group: the runs' group; None is the experiment's name.
        api_key_file: a file whose first line is the API key.
        api_key: the API key (sets ``WANDB_API_KEY``).
        excludes: result keys not to log (a key also excludes its nested keys).
        log_config: also log the config in every history row (under ``config/``).
        upload_checkpoints: upload each checkpoint as a W&B artifact of type ``model``.
        save_checkpoints: the former name of ``upload_checkpoints``.
        upload_timeout: the longest wait, in seconds, at the experiment's end for pending
            logging.
        **kwargs: more arguments for ``wandb.init`` (``entity``, ``tags``, ``mode``, ``dir``...).

    Example::

        tune.run(train, config=space, callbacks=[WandbLoggerCallback(project="lr-search")])
    """

    _needs_trial_dir_at_start = False  # nothing is written there when a trial starts

    def __init__(
        self,
        project: str | None = None,
        group: str | None = None,
        api_key_file: str | None = None,
        api_key: str | None = None,
        excludes: list[str] | None = None,
        log_config: bool = False,
        upload_checkpoints: bool = False,
        save_checkpoints: bool = False,
        upload_timeout: float = 1800,
        **kwargs: Any,
    ) -> None:
        if save_checkpoints:
            warnings.warn(
                "save_checkpoints is deprecated: use upload_checkpoints",
                DeprecationWarning,
                stacklevel=2,
            )
        if upload_timeout < 0:
            raise ValueError(f"upload_timeout is {upload_timeout!r}, but must be >= 0")
        self.project = project
        self.group = group
        self.api_key_file = api_key_file
        self.api_key = api_key
        self.excludes = list(excludes or [])
        self.log_config = log_config
        self.upload_checkpoints = upload_checkpoints or save_checkpoints
        self.upload_timeout = upload_timeout
        self.kwargs = kwargs
        self._wandb: Any = None
        self._open: set[str] = set()
        self._configured: set[str] = set()  # trials whose result facts went to the config
        self._runs: dict[str, Any] = {}  # trial id -> wandb run; used by the worker only
        self._worker = BackgroundWorker("WandbLoggerCallback", self._handle, max_batch=64)

    def setup(self, stop: Any = None, num_samples: int | None = None, **info: Any) -> None:
        self._ensure()

    def _ensure(self) -> None:
        if self._wandb is None:
            wandb = _import_wandb("WandbLoggerCallback")
            _set_api_key(self.api_key_file, self.api_key)
            self._wandb = wandb

    # -- hooks ----------------------------------------------------------------------------
    def log_trial_start(self, trial: FrozenTrial) -> None:
        self._ensure()
        if trial.trial_id in self._open:  # restarted after a pause or a failure: same run
            return
        self._open.add(trial.trial_id)
        init: dict[str, Any] = {
            "id": trial.trial_id,
            "name": trial.trial_name,
            "group": self.group or experiment_name_of(trial),
            "project": self.project or os.environ.get("WANDB_PROJECT"),
            "config": dict(trial.config),
            "resume": "allow",
            "reinit": "create_new",
            "allow_val_change": True,
        }
        if not os.environ.get("WANDB_DIR"):
            init["dir"] = trial.path
        init.update(self.kwargs)
        if init.get("dir"):
            os.makedirs(str(init["dir"]), exist_ok=True)
        self._worker.submit(("start", trial.trial_id, init))

    def log_trial_result(self, iteration: int, trial: FrozenTrial, result: dict[str, Any]) -> None:
        if trial.trial_id not in self._open:
            self.log_trial_start(trial)
        row, facts = self._split(result)
        if trial.trial_id not in self._configured and facts:
            self._configured.add(trial.trial_id)
            self._worker.submit(("config", trial.trial_id, facts))
        self._worker.submit(("log", trial.trial_id, row))

    def on_checkpoint(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        checkpoint: Any,
        **info: Any,
    ) -> None:
        path = getattr(checkpoint, "path", checkpoint)
        if self.upload_checkpoints and path and trial.trial_id in self._open:
            self._worker.submit(("checkpoint", trial.trial_id, str(path), trial.trial_name))

    def log_trial_end(self, trial: FrozenTrial, failed: bool = False) -> None:
        if trial.trial_id in self._open:
            self._open.discard(trial.trial_id)
            self._worker.submit(("end", trial.trial_id, 1 if failed else 0))

    def on_experiment_end(self, trials: list[FrozenTrial], **info: Any) -> None:
        for trial_id in list(self._open):
            self._open.discard(trial_id)
            self._worker.submit(("end", trial_id, None))
        self._worker.stop(self.upload_timeout)

    def _split(self, result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The history row to log, and the facts about the trial for its config."""
        row: dict[str, Any] = {}
        facts: dict[str, Any] = {}
        for key, value in flatten(result).items():
            top = key.split("/", 1)[0]
            if top in _NEVER_LOGGED or _excluded(key, self.excludes):
                continue
            if top in _TO_CONFIG:
                facts[key] = value
            elif _loggable(value):
                row[key] = value
        if self.log_config:
            for key, value in flatten(result.get("config") or {}).items():
                if _loggable(value):
                    row[f"config/{key}"] = value
        return row, facts

    # -- the worker thread ------------------------------------------------------------------
    def _handle(self, items: list[Any]) -> None:
        for item in items:
            try:
                self._do(item)
            except Exception:  # noqa: BLE001 - reported; the other trials go on
                self._worker.report_failure()

    def _do(self, item: tuple[Any, ...]) -> None:
        kind, trial_id = item[0], item[1]
        if kind == "start":
            run = self._wandb.init(**item[2])
            run.define_metric("training_iteration")
            run.define_metric("*", step_metric="training_iteration")
            self._runs[trial_id] = run
            return
        run = self._runs.get(trial_id)
        if run is None:
            return  # its run could not be started: already reported
        if kind == "log":
            run.log(item[2])
        elif kind == "config":
            run.config.update(item[2], allow_val_change=True)
        elif kind == "checkpoint":
            name = re.sub(r"[^\w.-]", "_", f"checkpoint_{item[3]}")
            artifact = self._wandb.Artifact(name=name, type="model")
            artifact.add_dir(item[2])
            run.log_artifact(artifact)
        elif kind == "end":
            del self._runs[trial_id]
            if item[2] is None:
                run.finish()
            else:
                run.finish(exit_code=item[2])


def setup_wandb(
    config: dict[str, Any] | None = None,
    api_key: str | None = None,
    api_key_file: str | None = None,
    rank_zero_only: bool = True,
    **kwargs: Any,
) -> Any:
    """Start a W&B run for the trial that calls it and return it (a ``wandb`` Run).

    Inside a trial the run's id is the trial id, its name the trial name and its group the
    experiment; ``config`` becomes the run's config; the run is finished when the trial's
    function returns. ``kwargs`` go to ``wandb.init`` and override those defaults.
    ``rank_zero_only`` is accepted for compatibility: every Overtone trial is rank 0.

    Example::

        def train(config):
            run = setup_wandb(config, project="lr-search")
            for step in range(10):
                run.log({"loss": config["lr"] / (step + 1)})
    """
    wandb = _import_wandb("setup_wandb")
    _set_api_key(api_key_file, api_key)
    trial = current_trial()
    init: dict[str, Any] = {"config": dict(config or {}), "reinit": "finish_previous"}
    if trial.trial_id is not None:
        init.update(
            id=trial.trial_id,
            name=trial.trial_name,
            group=trial.experiment_name,
            resume="allow",
            allow_val_change=True,
        )
        if not os.environ.get("WANDB_DIR") and trial.trial_dir:
            init["dir"] = trial.trial_dir
    init.update(kwargs)
    run = wandb.init(**init)
    on_trial_exit(run.finish)
    return run


def _excluded(key: str, excludes: list[str]) -> bool:
    return any(key == item or key.startswith(item + "/") for item in excludes)


def _loggable(value: Any) -> bool:
    if isinstance(value, (bool, int, float)) or is_number(value):
        return True
    if getattr(value, "ndim", None) is not None and hasattr(value, "dtype"):
        return True  # numpy arrays: W&B makes histograms of them
    return type(value).__module__.startswith("wandb")  # wandb.Image, wandb.Table, ...
