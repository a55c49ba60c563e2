"""``ExperimentAnalysis``: the results of an experiment, read back from its directory."""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from overtone._checks import check_mode, check_objectives
from overtone._errors import ExperimentStateError, MetricNotFoundError
from overtone.analysis._frames import (
    SCOPES,
    best_rows_frame,
    pareto_front,
    results_frame,
    trial_frame,
)
from overtone.analysis._scores import (
    Score,
    existing_checkpoints,
    is_finite,
    is_nan,
    mean_score,
    score_of,
)
from overtone.analysis._trial_record import TrialRecord, flatten_dict, metric_keys
from overtone.checkpoint import Checkpoint
from overtone.storage._state import (
    load_experiment_entries,
    load_experiment_state,
    locate_experiment,
)

__all__ = ["ExperimentAnalysis", "ExperimentStateError", "load_experiment_state"]

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def _one_objective(name: str, value: Any, what: str = "this") -> None:
    if isinstance(value, (list, tuple)):
        raise ValueError(
            f"{name} is the list {list(value)!r} (several objectives), but {what} compares "
            f"one: pass a single {name}, or use pareto_front / get_pareto_front() for all"
        )


class ExperimentAnalysis:
    """The trials and results of an experiment, read from its directory.

    Args:
        experiment_checkpoint_path: the experiment directory (or its ``experiment_state.json``).
        default_metric: the metric ``best_*`` and ``get_best_*`` use when given none; defaults to
            the experiment's own ``metric``. A list of metrics (several objectives) is what
            :attr:`pareto_front` uses; ``best_*`` then need one metric passed to them.
        default_mode: ``"min"`` or ``"max"`` (or a list of them), likewise.

    Example::

        analysis = ExperimentAnalysis("~/overtone_results/my_experiment")
        best = analysis.get_best_trial("mean_loss", "min")
        print(best.config, analysis.dataframe("mean_loss", "min"))
    """

    def __init__(
        self,
        experiment_checkpoint_path: str | os.PathLike[str],
        default_metric: str | list[str] | None = None,
        default_mode: str | list[str] | None = None,
    ) -> None:
        check_objectives(default_metric, default_mode)
        self._experiment_path, _ = locate_experiment(experiment_checkpoint_path)
        memo: dict[Any, Any] = {}  # values the records share
        self._state, self._trials = load_experiment_entries(
            self._experiment_path, lambda entry: TrialRecord(entry, self._experiment_path, memo)
        )
        self._default_metric: Any = default_metric or self._state.get("metric")
        self._default_mode: Any = default_mode or self._state.get("mode")
        self._dataframes: dict[str, pd.DataFrame] = {}

    # -- basic views -------------------------------------------------------------------------

    @property
    def experiment_path(self) -> str:
        return self._experiment_path

    @property
    def trials(self) -> list[TrialRecord]:
        return list(self._trials)

    @property
    def default_metric(self) -> str | None:
        return self._default_metric

    @property
    def default_mode(self) -> str | None:
        return self._default_mode

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        """The last result of every trial, by trial id."""
        return {trial.trial_id: trial.last_result for trial in self._trials}

    @property
    def results_df(self) -> pd.DataFrame:
        """One row per trial: its last result flattened with ``/``, indexed by ``trial_id``."""
        return results_frame(self._trials)

    def _trial_dataframe(self, trial: TrialRecord | str) -> pd.DataFrame:
        """Every result of one trial, flattened with ``/`` (read once, then cached)."""
        return trial_frame(self._find_trial(trial), self._dataframes)

    @property
    def trial_dataframes(self) -> dict[str, pd.DataFrame]:
        """Every trial's results as a DataFrame, by trial path."""
        return {trial.path: self._trial_dataframe(trial) for trial in self._trials}

    def dataframe(self, metric: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """One row per trial that reported: its best result for ``metric``/``mode``.

        Without ``mode`` the row is the trial's last result. Rows also hold the trial's
        ``config/...`` and its ``logdir``. The defaults are not used here, on purpose: the best
        row is only chosen when asked for.
        """
        return best_rows_frame(self._trials, self._trial_dataframe, metric, mode)

    def get_all_configs(self, prefix: bool = False) -> dict[str, dict[str, Any]]:
        """Every trial's config by trial path; with ``prefix``, flattened as ``config/...``."""
        return {
            trial.path: flatten_dict({"config": trial.config}) if prefix else trial.config
            for trial in self._trials
        }

    def stats(self) -> dict[str, Any]:
        """Facts about the experiment: name, start time, version and trial counts by status."""
        counts = Counter(trial.status.value for trial in self._trials)
        return {
            "name": self._state.get("name"),
            "start_time": self._state.get("start_time"),
            "overtone_version": self._state.get("overtone_version"),
            "num_trials": len(self._trials),
            "status_counts": dict(sorted(counts.items())),
        }

    # -- best trial --------------------------------------------------------------------------

    def _resolve_metric(self, metric: str | None) -> str:
        metric = metric or self._default_metric
        if not metric:
            raise ValueError(
                "No `metric` has been passed and `default_metric` has not been set. "
                "Please specify the `metric` parameter."
            )
        _one_objective("metric", metric)
        return metric

    def _resolve_mode(self, mode: str | None) -> str:
        if not isinstance(mode, list):
            check_mode(mode)
        mode = mode or self._default_mode
        if not mode:
            raise ValueError(
                "No `mode` has been passed and `default_mode` has not been set. "
                "Please specify the `mode` parameter."
            )
        _one_objective("mode", mode)
        return mode

    def _find_trial(self, trial: TrialRecord | str) -> TrialRecord:
        if isinstance(trial, TrialRecord):
            return trial
        if isinstance(trial, (str, os.PathLike)):
            key = os.fspath(trial)
            for record in self._trials:
                if key in (record.trial_id, record.path, record.trial_name):
                    return record
            raise ValueError(f"trial {key!r} is not a trial id, name or path of this experiment")
        raise TypeError(f"trial is {trial!r}, but must be a TrialRecord, trial id or trial path")

    def _check_metric_reported(self, metric: str) -> None:
        if any(metric in flatten_dict(trial.last_result) for trial in self._trials):
            return
        results = [result for trial in self._trials for result in trial.load_results()]
        if any(metric in flatten_dict(result) for result in results):
            return
        existing = metric_keys(results + [trial.last_result for trial in self._trials])
        raise MetricNotFoundError(
            f"metric {metric!r} was not reported by any trial; "
            f"the reported metrics are: {sorted(existing)}"
        )

    @staticmethod
    def _values(trial: TrialRecord, metric: str) -> list[Score]:
        scores = (score_of(flatten_dict(result).get(metric)) for result in trial.load_results())
        return [score for score in scores if score is not None]

    def _score(self, trial: TrialRecord, metric: str, mode: str, scope: str) -> Score | None:
        if scope == "last":
            score = score_of(flatten_dict(trial.last_result).get(metric))
            if score is not None:
                return score
        values = self._values(trial, metric)
        if not values:
            return None
        if scope == "last":
            return values[-1]
        if scope == "avg":
            return mean_score(values)
        if scope == "last-5-avg":
            return mean_score(values[-5:])
        if scope == "last-10-avg":
            return mean_score(values[-10:])
        if any(is_nan(v) for v in values):
            return math.nan
        return max(values) if mode == "max" else min(values)

    def get_best_trial(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> TrialRecord | None:
        """The trial with the best ``metric`` for ``mode``, or None if every score is NaN/inf.

        Args:
            metric: the metric to compare; defaults to ``default_metric``.
            mode: ``"min"`` or ``"max"``; defaults to ``default_mode``.
            scope: which of a trial's values is its score: ``"last"``, ``"avg"`` (of all),
                ``"last-5-avg"``, ``"last-10-avg"``, or ``"all"`` (its best, by ``mode``).
            filter_nan_and_inf: skip trials whose score is NaN or infinite.

        Raises:
            MetricNotFoundError: if no trial ever reported ``metric``.
        """
        no_metric = not (metric or self._default_metric or mode or self._default_mode)
        if no_metric and len(self._trials) == 1:
            return self._trials[0]  # as Ray Tune: the only trial is the best one
        metric = self._resolve_metric(metric)
        mode = self._resolve_mode(mode)
        if scope not in SCOPES:
            raise ValueError(f"scope is {scope!r}, but must be one of {list(SCOPES)}")
        self._check_metric_reported(metric)
        best: TrialRecord | None = None
        best_score: Score = math.nan
        for trial in self._trials:
            score = self._score(trial, metric, mode, scope)
            if score is None or (filter_nan_and_inf and not is_finite(score)):
                continue
            better = score > best_score if mode == "max" else score < best_score
            if best is None or better or (is_nan(best_score) and not is_nan(score)):
                best, best_score = trial, score
        if best is None:
            logger.warning(
                "Could not find a best trial: every trial's %r is NaN or infinite "
                "(pass filter_nan_and_inf=False to compare them anyway).",
                metric,
            )
        return best

    def get_best_config(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> dict[str, Any] | None:
        """The config of :meth:`get_best_trial`'s trial, or None."""
        trial = self.get_best_trial(metric, mode, scope, filter_nan_and_inf)
        return trial.config if trial else None

    def get_best_logdir(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> str | None:
        """The directory of :meth:`get_best_trial`'s trial, or None."""
        trial = self.get_best_trial(metric, mode, scope, filter_nan_and_inf)
        return trial.path if trial else None

    # -- checkpoints -------------------------------------------------------------------------

    def get_best_checkpoint(
        self,
        trial: TrialRecord | str,
        metric: str | None = None,
        mode: str | None = None,
    ) -> Checkpoint | None:
        """The trial's kept checkpoint with the best ``metric`` (None if it kept none).

        ``metric`` defaults to ``default_metric``, then ``training_iteration``; it is read from
        the metrics reported with each checkpoint. A checkpoint whose folder is no longer on
        disk (deleted by hand, or by a cleanup) is skipped with a warning: the best of those
        that still exist is returned, or None if none does.
        """
        record = self._find_trial(trial)
        metric = metric or self._default_metric or "training_iteration"
        mode = self._resolve_mode(mode)
        checkpoints = record.checkpoints
        if not checkpoints:
            logger.info("Trial %s kept no checkpoints.", record)
            return None
        scored: list[tuple[Checkpoint, Score]] = []
        for checkpoint, metrics in checkpoints:
            score = score_of(flatten_dict(metrics).get(metric))
            if score is not None and is_finite(score):
                scored.append((checkpoint, score))
        if scored:
            scored = existing_checkpoints(scored, str(record))
            if not scored:
                return None
        if not scored:
            if any(metric in flatten_dict(metrics) for _, metrics in checkpoints):
                return None  # reported, but never as a finite number
            existing = metric_keys([metrics for _, metrics in checkpoints])
            raise MetricNotFoundError(
                f"metric {metric!r} is not in the metrics of any checkpoint of trial {record}; "
                f"they have: {sorted(existing)}"
            )
        pick = max if mode == "max" else min
        return pick(scored, key=lambda item: item[1])[0]

    def get_last_checkpoint(
        self,
        trial: TrialRecord | str | None = None,
        metric: str = "training_iteration",
        mode: str = "max",
    ) -> Checkpoint | None:
        """A trial's latest checkpoint (of the trial that ran longest, if none is given)."""
        record = self.get_best_trial(metric, mode) if trial is None else self._find_trial(trial)
        if record is None:
            return None
        return self.get_best_checkpoint(record, metric, mode)

    # -- best_* with the default metric and mode ---------------------------------------------

    def _require_defaults(self, what: str, alternative: str) -> tuple[str, str]:
        if not self._default_metric or not self._default_mode:
            raise ValueError(
                f"To fetch the `{what}`, pass a `metric` and `mode` parameter to `tune.run()` "
                f"(or `TuneConfig`). Alternatively, use the `{alternative}` method to set the "
                "metric and mode explicitly."
            )
        _one_objective("metric", self._default_metric, what)
        return self._default_metric, self._default_mode

    # -- several objectives -----------------------------------------------------------------

    def get_pareto_front(
        self,
        metric: list[str] | None = None,
        mode: list[str] | str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> list[TrialRecord]:
        """The trials that no other trial beats in every metric (the Pareto front), in trial
        order.

        Args:
            metric: the metrics to compare; defaults to the experiment's list of metrics.
            mode: one ``"min"``/``"max"`` per metric (or one for all); defaults likewise.
            scope: which of a trial's values counts, per metric, as in :meth:`get_best_trial`.
            filter_nan_and_inf: leave out trials with a NaN or infinite score.

        Raises:
            MetricNotFoundError: if no trial ever reported one of the metrics.
        """
        metrics = metric if metric is not None else self._default_metric
        modes = mode if mode is not None else self._default_mode
        return pareto_front(
            self._trials,
            metrics,
            modes,
            scope,
            filter_nan_and_inf,
            self._check_metric_reported,
            self._score,
        )

    @property
    def pareto_front(self) -> list[TrialRecord]:
        """The Pareto front by the experiment's metrics and modes (see
        :meth:`get_pareto_front`)."""
        return self.get_pareto_front()

    def _require_best_trial(self, what: str, alternative: str) -> TrialRecord:
        metric, mode = self._require_defaults(what, alternative)
        trial = self.get_best_trial(metric, mode)
        if trial is None:
            raise ValueError(
                f"No best trial found: every trial's {metric!r} is NaN or infinite "
                f"(default metric {metric!r}, mode {mode!r})."
            )
        return trial

    @property
    def best_trial(self) -> TrialRecord | None:
        metric, mode = self._require_defaults("best_trial", "get_best_trial(metric, mode)")
        return self.get_best_trial(metric, mode)

    @property
    def best_config(self) -> dict[str, Any] | None:
        metric, mode = self._require_defaults("best_config", "get_best_config(metric, mode)")
        return self.get_best_config(metric, mode)

    @property
    def best_logdir(self) -> str | None:
        metric, mode = self._require_defaults("best_logdir", "get_best_logdir(metric, mode)")
        return self.get_best_logdir(metric, mode)

    @property
    def best_checkpoint(self) -> Checkpoint | None:
        alternative = "get_best_checkpoint(trial, metric, mode)"
        trial = self._require_best_trial("best_checkpoint", alternative)
        return self.get_best_checkpoint(trial, self._default_metric, self._default_mode)

    @property
    def best_dataframe(self) -> pd.DataFrame:
        trial = self._require_best_trial("best_dataframe", "get_best_trial(metric, mode)")
        return self._trial_dataframe(trial)

    @property
    def best_result(self) -> dict[str, Any]:
        trial = self._require_best_trial("best_result", "get_best_trial(metric, mode)")
        return trial.last_result

    @property
    def best_result_df(self) -> pd.DataFrame:
        import pandas as pd

        trial = self._require_best_trial("best_result_df", "get_best_trial(metric, mode)")
        return pd.DataFrame.from_records([flatten_dict(trial.last_result)], index="trial_id")

    def __repr__(self) -> str:
        return f"ExperimentAnalysis({self._experiment_path!r}, trials={len(self._trials)})"
