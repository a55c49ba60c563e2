"""``tune.Tuner``: the current generation of the API."""

from __future__ import annotations

import dataclasses
import os
import pickle
from typing import Any

import cloudpickle

from overtone._errors import TuneError
from overtone._run import execute, resolve_trainable, validate_trainable
from overtone._state import ResumeMode, can_restore
from overtone.config import RunConfig, TuneConfig
from overtone.space._variants import validate_space
from overtone.storage._download import download
from overtone.storage._layout import STATE_FILE, TUNER_FILE
from overtone.storage._uri import is_remote, resolve_filesystem, staging_dir


class Tuner:
    """Define an experiment, then ``fit()`` it.

    Example::

        tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                           tune_config=tune.TuneConfig(metric="loss", mode="min",
                                                       num_samples=10))
        best = tuner.fit().get_best_result()
    """

    def __init__(
        self,
        trainable: Any,
        *,
        param_space: dict[str, Any] | None = None,
        tune_config: TuneConfig | None = None,
        run_config: RunConfig | None = None,
    ) -> None:
        trainable = resolve_trainable(trainable)
        validate_trainable(trainable)
        if param_space is not None and not isinstance(param_space, dict):
            raise TypeError(f"param_space is {param_space!r}, but must be a dict")
        validate_space(param_space or {})
        if tune_config is not None and not isinstance(tune_config, TuneConfig):
            raise TypeError(f"tune_config is {tune_config!r}, but must be a tune.TuneConfig")
        if run_config is not None and not isinstance(run_config, RunConfig):
            raise TypeError(f"run_config is {run_config!r}, but must be a tune.RunConfig")
        self._trainable = trainable
        self._param_space = param_space or {}
        self._tune_config = tune_config or TuneConfig()
        self._run_config = run_config or RunConfig()
        self._results: Any = None
        self._resume: ResumeMode | None = None
        self._restored_path: str | None = None  # set by restore(): get_results() reads it

    def fit(self) -> Any:
        """Run the experiment and return its ``ResultGrid`` (failed trials do not raise)."""
        from overtone.analysis import ExperimentAnalysis, ResultGrid

        path, _ = execute(
            self._trainable,
            self._param_space,
            self._tune_config,
            self._run_config,
            default_verbose=2,  # like Ray's default: the live status and finished trials
            resume=self._resume,
            extra_files={TUNER_FILE: self._settings_blob()},
        )
        analysis = ExperimentAnalysis(
            path, default_metric=self._tune_config.metric, default_mode=self._tune_config.mode
        )
        self._results = ResultGrid(analysis)
        return self._results

    def _settings_blob(self) -> bytes:
        """The settings, pickled for ``Tuner.restore`` (those that can be pickled)."""
        settings: dict[str, Any] = {}
        for key, value in (
            ("param_space", self._param_space),
            ("tune_config", self._tune_config),
            ("run_config", self._run_config),
        ):
            try:
                cloudpickle.dumps(value)
            except Exception:  # noqa: BLE001 - restore will then ask for it
                continue
            settings[key] = value
        return cloudpickle.dumps(settings)

    @classmethod
    def can_restore(cls, path: str, storage_filesystem: Any = None) -> bool:
        """Whether ``path`` holds an experiment that ``Tuner.restore`` can continue."""
        if is_remote(path):
            fs, root = resolve_filesystem(path.rstrip("/"), storage_filesystem)
            return bool(fs.exists(f"{root}/{STATE_FILE}"))
        return can_restore(path)

    @classmethod
    def restore(
        cls,
        path: str,
        trainable: Any,
        resume_unfinished: bool = True,
        resume_errored: bool = False,
        restart_errored: bool = False,
        param_space: dict[str, Any] | None = None,
        storage_filesystem: Any = None,
        _resume_config: Any = None,
        tune_config: TuneConfig | None = None,
    ) -> Tuner:
        """Continue an experiment that was stopped or crashed.

        Finished trials keep their results; unfinished ones resume from their latest
        checkpoint (or start over without one); the searcher and scheduler continue where
        they were. Example::

            tuner = tune.Tuner.restore("~/overtone_results/my_exp", trainable=train)
            results = tuner.fit()

        The study may change as it goes on: a ``tune_config`` with a larger ``num_samples``
        adds trials (it is the total); a ``param_space`` other than the recorded one gets a
        fresh searcher over it, told about the finished trials first (a warm start), and the
        trials the new space cannot produce are kept, marked ``out_of_space``, and not
        resumed.
        """
        from overtone.storage._state import load_experiment_state

        path = os.fspath(path)
        if is_remote(path):
            uri = path.rstrip("/")
            local = download(uri, staging_dir(uri), filesystem=storage_filesystem)
            storage_path, name = uri.rsplit("/", 1)
        else:
            local = path = os.path.abspath(os.path.expanduser(path))
            storage_path, name = os.path.dirname(path), os.path.basename(path)
        load_experiment_state(local)  # a clear error when path is not an experiment
        settings: dict[str, Any] = {}
        tuner_file = os.path.join(local, TUNER_FILE)
        if os.path.exists(tuner_file):
            settings = _read_settings(tuner_file)
        if param_space is None:
            param_space = settings.get("param_space")
            if param_space is None and os.path.exists(tuner_file):
                raise ValueError(
                    f"the param_space of {path} could not be saved; pass it again: "
                    "Tuner.restore(path, trainable, param_space=...)"
                )
        run_config = dataclasses.replace(
            settings.get("run_config") or RunConfig(), name=name, storage_path=storage_path
        )
        if storage_filesystem is not None:
            run_config = dataclasses.replace(run_config, storage_filesystem=storage_filesystem)
        tuner = cls(
            trainable,
            param_space=param_space,
            tune_config=tune_config or settings.get("tune_config"),
            run_config=run_config,
        )
        tuner._restored_path = local
        if _resume_config is not None:  # Ray's newer spelling of the three flags
            from overtone.config import ResumeConfig, ResumeType

            if isinstance(_resume_config, dict):
                _resume_config = ResumeConfig(**_resume_config)
            tuner._resume = ResumeMode(
                resume_unfinished=_resume_config.unfinished is ResumeType.RESUME,
                resume_errored=_resume_config.errored is ResumeType.RESUME,
                restart_errored=_resume_config.errored is ResumeType.RESTART,
            )
        else:
            tuner._resume = ResumeMode(
                resume_unfinished=resume_unfinished,
                resume_errored=resume_errored,
                restart_errored=restart_errored,
            )
        return tuner

    def get_results(self) -> Any:
        """The ``ResultGrid`` of the last ``fit()``; for a tuner from :meth:`restore` that
        has not been fitted, the results of the restored experiment as they are on disk."""
        if self._results is None and self._restored_path is not None:
            from overtone.analysis import ExperimentAnalysis, ResultGrid

            analysis = ExperimentAnalysis(
                self._restored_path,
                default_metric=self._tune_config.metric,
                default_mode=self._tune_config.mode,
            )
            return ResultGrid(analysis)
        if self._results is None:
            raise RuntimeError(
                "get_results() needs fit() to have run first (or a tuner from Tuner.restore)"
            )
        return self._results


def _read_settings(tuner_file: str) -> dict[str, Any]:
    """The settings ``Tuner.fit`` saved, or a ``TuneError`` that says what to do."""
    try:
        with open(tuner_file, "rb") as f:
            settings = pickle.load(f)
        if not isinstance(settings, dict):
            raise TypeError(f"it holds a {type(settings).__name__}, not the settings")
    except Exception as exc:  # noqa: BLE001 - any unreadable file means the same here
        raise TuneError(
            f"{tuner_file} cannot be read ({type(exc).__name__}: {exc}): it is damaged, or "
            "was written by a version of Overtone or of a library it pickles that differs "
            "from this one. The trials and results are not in it: move it away and call "
            "Tuner.restore(path, trainable, param_space=...) again, which restores them with "
            "default tune_config and run_config settings"
        ) from exc
    return settings
