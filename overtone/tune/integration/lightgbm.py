"""LightGBM callbacks for ``lightgbm.train`` and ``lightgbm.cv`` (Ray Tune's module path).

Example::

    from overtone.tune.integration.lightgbm import TuneReportCheckpointCallback

    def train(config):
        lightgbm.train(config, dtrain, valid_sets=[dvalid], valid_names=["eval"],
                       callbacks=[TuneReportCheckpointCallback({"loss": "eval-binary_logloss"})])
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

lgb = require("lightgbm", "lightgbm")

__all__ = ["TuneReportCallback", "TuneReportCheckpointCallback"]


def _flatten(evaluation_result_list: list[tuple[Any, ...]]) -> dict[str, float]:
    """LightGBM's evaluation tuples as {"<data>-<metric>": value}.

    ``lightgbm.cv`` adds a standard deviation: its metrics come as ``"<data>-<metric>-mean"``
    and ``"<data>-<metric>-stdv"``.
    """
    flat: dict[str, float] = {}
    for entry in evaluation_result_list:
        data_name, metric_name, value = entry[0], entry[1], entry[2]
        key = f"{data_name}-{metric_name}"
        if len(entry) > 4:
            flat[f"{key}-mean"] = float(value)
            flat[f"{key}-stdv"] = float(entry[4])
        else:
            flat[key] = float(value)
    return flat


class TuneReportCheckpointCallback:
    """Report LightGBM's evaluation metrics each boosting round; checkpoint the booster.

    Args:
        metrics: which metrics to report: None (all, named ``"<valid name>-<metric>"`` such
            as ``"eval-binary_logloss"``), one name, a list, or a dict
            ``{reported name: LightGBM's name}``.
        filename: the booster's file inside the checkpoint.
        frequency: checkpoint every ``frequency`` rounds (0: never during training).
        checkpoint_at_end: checkpoint with the last round's report.
        results_postprocessing_fn: turns the flattened metrics into the dict reported.
    """

    CHECKPOINT_NAME = "model.txt"
    order = 20  # LightGBM runs callbacks by this attribute; early stopping's is 30

    def __init__(
        self,
        metrics: MetricSpec = None,
        filename: str = CHECKPOINT_NAME,
        frequency: int = 0,
        checkpoint_at_end: bool = True,
        results_postprocessing_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._metrics = normalize_metrics(metrics)
        if not isinstance(filename, str) or not filename or os.sep in filename:
            raise ValueError(f"filename is {filename!r}, but must be a plain file name")
        self._filename = filename
        self._frequency = check_frequency(frequency)
        self._checkpoint_at_end = bool(checkpoint_at_end)
        self._postprocess = results_postprocessing_fn

    @classmethod
    def get_model(cls, checkpoint: Checkpoint, filename: str = CHECKPOINT_NAME) -> Any:
        """The ``lightgbm.Booster`` saved in ``checkpoint``."""
        with checkpoint.as_directory() as folder:
            return lgb.Booster(model_file=os.path.join(folder, filename))

    def __call__(self, env: Any) -> None:
        metrics = select(_flatten(env.evaluation_result_list or []), self._metrics, "LightGBM")
        metrics = postprocess(metrics, self._postprocess)
        periodic = self._frequency and (env.iteration + 1) % self._frequency == 0
        at_end = self._checkpoint_at_end and env.iteration == env.end_iteration - 1
        save = None
        if periodic or at_end:
            model = env.model

            def save(folder: str) -> None:
                model.save_model(os.path.join(folder, self._filename))

        report_with_checkpoint(metrics, save)


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report LightGBM's evaluation metrics each boosting round, without checkpoints."""

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
