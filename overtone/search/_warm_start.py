"""Turning an earlier experiment's trials into evaluated points for a searcher (warm start)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

from overtone._trial import TrialStatus


def _trials_of(source: Any) -> list[Any]:
    """Trial records from an ``ExperimentAnalysis`` (anything with ``trials``) or a list.

    An experiment folder or a ``ResultGrid`` is read by ``TuneConfig(warm_start=...)`` (the
    controller's layer); a searcher never reads storage itself."""
    trials = getattr(source, "trials", None)
    if trials is not None and not callable(trials):
        return list(trials)
    if isinstance(source, (list, tuple)):
        return list(source)
    raise TypeError(
        f"warm start source is {source!r}, but must be an ExperimentAnalysis or a list of "
        "trials (give a folder or a ResultGrid to tune.TuneConfig(warm_start=...))"
    )


def _value(result: dict[str, Any], metric: str) -> float | None:
    value: Any = result
    if metric in result:
        value = result[metric]
    else:
        for part in metric.split("/"):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def evaluated_points(source: Any, metric: Any) -> Iterator[dict[str, Any]]:
    """Keyword arguments of ``Searcher.add_evaluated_point`` for each usable trial: finished
    ones with the metric(s), and failed ones (as errors)."""
    if metric is None:
        raise ValueError(
            "metric is None, but a warm start needs the metric to learn from: give "
            "metric= to the searcher or to tune.TuneConfig"
        )
    metrics = list(metric) if isinstance(metric, (list, tuple)) else [metric]
    for trial in _trials_of(source):
        status = getattr(trial, "status", TrialStatus.TERMINATED)
        config = dict(getattr(trial, "config", {}) or {})
        result = getattr(trial, "last_result", None) or {}
        if status is TrialStatus.ERROR:
            yield {"parameters": config, "value": None, "error": True}
            continue
        if status is not TrialStatus.TERMINATED:
            continue  # still running or paused: nothing final to learn from
        values = [_value(result, m) for m in metrics]
        if any(v is None for v in values):
            continue
        yield {
            "parameters": config,
            "value": values if isinstance(metric, (list, tuple)) else values[0],
        }
