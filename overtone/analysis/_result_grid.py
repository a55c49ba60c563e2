"""``ResultGrid``: the results of a ``Tuner.fit()``, one :class:`Result` per trial."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from overtone._errors import MetricNotFoundError, NoBestResultError, TrialError
from overtone._trial import TrialStatus
from overtone.analysis._experiment_analysis import ExperimentAnalysis
from overtone.analysis._result import Result
from overtone.analysis._trial_record import TrialRecord

__all__ = ["NoBestResultError", "ResultGrid"]

if TYPE_CHECKING:
    import pandas as pd


class ResultGrid:
    """The results of an experiment, one :class:`Result` per trial, in trial order.

    Example::

        grid = tuner.fit()
        best = grid.get_best_result(metric="loss", mode="min")
        print(best.config, best.metrics["loss"], grid.num_errors)
    """

    def __init__(self, experiment_analysis: ExperimentAnalysis) -> None:
        self._experiment_analysis = experiment_analysis
        # Each Result is built when asked for (it holds the trial's metrics as dicts).
        self._results = _Results(experiment_analysis.trials, self._trial_to_result)

    @property
    def experiment_path(self) -> str:
        return self._experiment_analysis.experiment_path

    @property
    def filesystem(self) -> object | None:
        """The filesystem of ``experiment_path``; None for a local directory."""
        return None

    def get_best_result(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> Result:
        """The result of the trial with the best ``metric`` for ``mode``.

        Takes the same arguments as :meth:`ExperimentAnalysis.get_best_trial`; the metric and
        mode default to those of the ``TuneConfig``.
        """
        analysis = self._experiment_analysis
        metric_given = metric or analysis.default_metric
        mode_given = mode or analysis.default_mode
        if len(self._results) == 1 and not metric_given and not mode_given:
            return self._results[0]  # as Ray Tune: the only trial is the best one
        if not metric_given:
            raise ValueError(
                "No metric is provided. Either pass in a `metric` arg to `get_best_result` "
                "or specify a metric in the `TuneConfig` of your `Tuner`."
            )
        if not mode_given:
            raise ValueError(
                "No mode is provided. Either pass in a `mode` arg to `get_best_result` "
                "or specify a mode in the `TuneConfig` of your `Tuner`."
            )
        try:
            best = analysis.get_best_trial(metric, mode, scope, filter_nan_and_inf)
        except MetricNotFoundError as exc:
            raise NoBestResultError(
                f"No best trial found for the given metric: {metric_given}. This means that no "
                f"trial has reported this metric. {exc}"
            ) from exc
        if best is None:
            message = f"No best trial found for the given metric: {metric_given}. "
            if filter_nan_and_inf:
                message += (
                    "All values reported for this metric are NaN or infinite. To not ignore "
                    "them, set the `filter_nan_and_inf` arg to False."
                )
            else:
                message += "No trial reported a number for it."
            raise RuntimeError(message)
        return self._results[analysis.trials.index(best)]

    def get_pareto_front(
        self,
        metric: list[str] | None = None,
        mode: list[str] | str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> list[Result]:
        """The results of the trials no other trial beats in every metric, in trial order.

        The metrics and modes default to the lists given to ``TuneConfig``; the arguments are
        those of :meth:`ExperimentAnalysis.get_pareto_front`.

        Example::

            grid = tune.Tuner(train, tune_config=tune.TuneConfig(
                metric=["loss", "latency"], mode=["min", "min"])).fit()
            for result in grid.get_pareto_front():
                print(result.config, result.metrics["loss"], result.metrics["latency"])
        """
        analysis = self._experiment_analysis
        front = analysis.get_pareto_front(metric, mode, scope, filter_nan_and_inf)
        trials = analysis.trials
        positions = {trial.trial_id: i for i, trial in enumerate(trials)}
        return [self._results[positions[trial.trial_id]] for trial in front]

    def get_dataframe(
        self, filter_metric: str | None = None, filter_mode: str | None = None
    ) -> pd.DataFrame:
        """One row per trial: its last result, or its best by ``filter_metric``/``filter_mode``."""
        return self._experiment_analysis.dataframe(metric=filter_metric, mode=filter_mode)

    @property
    def errors(self) -> list[TrialError]:
        """The failures of the trials that failed."""
        return [result.error for result in self._results if isinstance(result.error, TrialError)]

    @property
    def num_errors(self) -> int:
        return sum(trial.status is TrialStatus.ERROR for trial in self._experiment_analysis.trials)

    @property
    def num_terminated(self) -> int:
        trials = self._experiment_analysis.trials
        return sum(trial.status is TrialStatus.TERMINATED for trial in trials)

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, i: int) -> Result:
        return self._results[i]

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {result!r}" for result in self._results)
        return f"ResultGrid<[\n{inner}\n]>"

    def _trial_to_result(self, trial: TrialRecord) -> Result:
        analysis = self._experiment_analysis
        return Result(
            metrics=trial.last_result,
            checkpoint=trial.checkpoint,
            error=_trial_error(trial),
            path=trial.path,
            best_checkpoints=trial.best_checkpoints,
            _load_metrics_dataframe=lambda: analysis._trial_dataframe(trial),
        )


class _Results(Sequence[Result]):
    """One :class:`Result` per trial, built from the trial's record when first asked for
    (then kept, so that the same trial gives the same ``Result``)."""

    def __init__(self, trials: list[TrialRecord], build: Callable[[TrialRecord], Result]):
        self._trials = trials
        self._build = build
        self._built: dict[int, Result] = {}

    def __len__(self) -> int:
        return len(self._trials)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self._trials)))]
        if i < 0:
            i += len(self._trials)
        result = self._built.get(i)
        if result is None:
            result = self._built[i] = self._build(self._trials[i])
        return result

    def __iter__(self) -> Iterator[Result]:
        return (self[i] for i in range(len(self._trials)))


def _trial_error(trial: TrialRecord) -> TrialError | None:
    """The trial's failure: always for ERROR, and for an unfinished trial that failed before."""
    if trial.status is TrialStatus.TERMINATED:
        return None
    text = trial.error_msg
    if trial.status is TrialStatus.ERROR:
        return TrialError(trial.trial_name, text or "(no traceback was recorded)")
    return TrialError(trial.trial_name, text) if text else None
