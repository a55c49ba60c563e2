"""``tune.Tuner``: the current generation of the API."""

from __future__ import annotations

from typing import Any

from overtone._run import execute, validate_trainable
from overtone.config import RunConfig, TuneConfig
from overtone.search._variants import validate_space


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

    def fit(self) -> Any:
        """Run the experiment and return its ``ResultGrid`` (failed trials do not raise)."""
        from overtone.analysis import ExperimentAnalysis, ResultGrid

        path, _ = execute(self._trainable, self._param_space, self._tune_config,
                          self._run_config, default_verbose=1)
        analysis = ExperimentAnalysis(path, default_metric=self._tune_config.metric,
                                      default_mode=self._tune_config.mode)
        self._results = ResultGrid(analysis)
        return self._results

    def get_results(self) -> Any:
        if self._results is None:
            raise RuntimeError("get_results() needs fit() to have run first")
        return self._results
