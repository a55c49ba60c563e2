"""XGBoost callbacks for ``xgboost.train`` and ``xgboost.cv`` (Ray Tune's module path).

Example::

    from overtone.tune.integration.xgboost import TuneReportCheckpointCallback

    def train(config):
        booster = xgboost.train(config, dtrain, evals=[(dvalid, "eval")],
                                callbacks=[TuneReportCheckpointCallback(frequency=10)])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from overtone.checkpoint import Checkpoint
from overtone.tune.integration._common import (
    MetricSpec,
    check_frequency,
    normalize_metrics,
    postprocess,
    report_with_checkpoint,
    require,
    select,
)

xgb = require("xgboost", "xgboost")

__all__ = ["TuneReportCallback", "TuneReportCheckpointCallback"]


def _flatten(evals_log: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    """{"eval": {"logloss": [...]}} -> {"eval-logloss": last value}.

    ``xgboost.cv`` logs (mean, std) pairs: they stay as a list for
    ``results_postprocessing_fn``; without one, the mean is reported.
    """
    flat: dict[str, Any] = {}
    for data_name, by_metric in evals_log.items():
        for metric_name, history in by_metric.items():
            if not history:
                continue
            last = history[-1]
            flat[f"{data_name}-{metric_name}"] = (
                [float(v) for v in last] if isinstance(last, (tuple, list)) else float(last)
            )
    return flat


class TuneReportCheckpointCallback(xgb.callback.TrainingCallback):
    """Report XGBoost's evaluation metrics each boosting round; checkpoint the booster.

    Args:
        metrics: which metrics to report: None (all, named ``"<eval name>-<metric>"`` such
            as ``"eval-logloss"``), one name, a list of names, or a dict
            ``{reported name: XGBoost's name}`` to rename them.
        filename: the booster's file inside the checkpoint.
        frequency: checkpoint every ``frequency`` rounds (0: never during training).
        checkpoint_at_end: checkpoint when training ends (unless the last round already was).
        results_postprocessing_fn: turns the flattened metrics into the dict reported, e.g.
            to average the folds of ``xgboost.cv``.
    """

    CHECKPOINT_NAME = "model.ubj"

    def __init__(
        self,
        metrics: MetricSpec = None,
        filename: str = CHECKPOINT_NAME,
        frequency: int = 0,
        checkpoint_at_end: bool = True,
        results_postprocessing_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self._metrics = normalize_metrics(metrics)
        if not isinstance(filename, str) or not filename or os.sep in filename:
            raise ValueError(f"filename is {filename!r}, but must be a plain file name")
        self._filename = filename
        self._frequency = check_frequency(frequency)
        self._checkpoint_at_end = bool(checkpoint_at_end)
        self._postprocess = results_postprocessing_fn
        self._last_metrics: dict[str, Any] = {}
        self._last_checkpoint_round: int | None = None

    @classmethod
    def get_model(cls, checkpoint: Checkpoint, filename: str = CHECKPOINT_NAME) -> Any:
        """The ``xgboost.Booster`` saved in ``checkpoint``."""
        booster = xgb.Booster()
        with checkpoint.as_directory() as folder:
            booster.load_model(os.path.join(folder, filename))
        return booster

    def _metrics_of(self, evals_log: dict[str, Any]) -> dict[str, Any]:
        flat = _flatten(evals_log)
        if self._postprocess is None:
            flat = {k: v[0] if isinstance(v, list) else v for k, v in flat.items()}
        chosen = select(flat, self._metrics, "XGBoost")
        return postprocess(chosen, self._postprocess)

    def _saver(self, model: Any) -> Callable[[str], None]:
        return lambda folder: model.save_model(os.path.join(folder, self._filename))

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        self._last_metrics = self._metrics_of(evals_log)
        save = None
        if self._frequency and (epoch + 1) % self._frequency == 0:
            self._last_checkpoint_round = model.num_boosted_rounds()
            save = self._saver(model)
        report_with_checkpoint(self._last_metrics, save)
        return False

    def after_training(self, model: Any) -> Any:
        if self._checkpoint_at_end and self._last_checkpoint_round != model.num_boosted_rounds():
            report_with_checkpoint(self._last_metrics, self._saver(model))
        return model


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report XGBoost's evaluation metrics each boosting round, without checkpoints."""

    def __init__(
        self,
        metrics: MetricSpec = None,
        results_postprocessing_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            metrics=metrics,
            frequency=0,
            checkpoint_at_end=False,
            results_postprocessing_fn=results_postprocessing_fn,
        )
