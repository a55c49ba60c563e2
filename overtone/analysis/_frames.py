"""The tables and fronts ``ExperimentAnalysis`` builds from its trials: DataFrames of results
and the Pareto front of several objectives."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from overtone._checks import check_mode, check_objectives
from overtone.analysis._scores import Score
from overtone.analysis._trial_record import TrialRecord, flatten_dict

if TYPE_CHECKING:
    import pandas as pd

SCOPES = ("last", "avg", "last-5-avg", "last-10-avg", "all")


def results_frame(trials: list[TrialRecord]) -> pd.DataFrame:
    """One row per trial: its last result flattened with ``/``, indexed by ``trial_id``."""
    import pandas as pd

    if not trials:
        return pd.DataFrame(index=pd.Index([], name="trial_id"))
    rows = [flatten_dict(trial.last_result) for trial in trials]
    return pd.DataFrame.from_records(rows, index="trial_id")


def trial_frame(record: TrialRecord, cache: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every result of one trial, flattened with ``/`` (read once, then kept in ``cache``)."""
    import pandas as pd

    frame = cache.get(record.path)
    if frame is None:
        rows = [flatten_dict(result) for result in record.load_results()]
        frame = pd.DataFrame(rows) if rows else pd.DataFrame()
        cache[record.path] = frame
    return frame


def best_rows_frame(
    trials: list[TrialRecord],
    frame_of: Callable[[TrialRecord], pd.DataFrame],
    metric: str | None,
    mode: str | None,
) -> pd.DataFrame:
    """One row per trial that reported: its best result for ``metric``/``mode`` (its last
    without ``mode``), with its ``config/...`` and ``logdir``."""
    import pandas as pd

    check_mode(mode)
    if mode and not metric:
        raise ValueError(f"mode is {mode!r}, but no metric was given to pick the rows by")
    rows = []
    for trial in trials:
        frame = frame_of(trial)
        if frame.empty:
            continue
        position = len(frame) - 1
        if metric and mode and metric in frame.columns:
            values = pd.to_numeric(frame[metric], errors="coerce").reset_index(drop=True)
            values = values.dropna()
            if not values.empty:
                position = int(values.idxmax() if mode == "max" else values.idxmin())
        row = frame.iloc[position].to_dict()
        row.update(flatten_dict({"config": trial.config}))
        row["logdir"] = trial.path
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_front(
    trials: list[TrialRecord],
    metrics: Any,
    modes: Any,
    scope: str,
    filter_nan_and_inf: bool,
    check_reported: Callable[[str], None],
    score: Callable[[TrialRecord, str, str, str], Score | None],
) -> list[TrialRecord]:
    """The trials that no other trial beats in every metric, in trial order (see
    ``ExperimentAnalysis.get_pareto_front``)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    if not metrics or not modes:
        raise ValueError(
            "get_pareto_front needs metrics and modes: pass metric=[...] and mode=[...], "
            "or give lists of them to tune.TuneConfig / tune.run"
        )
    metrics, modes = check_objectives(list(metrics), modes)
    if isinstance(modes, str):
        modes = [modes]
    if scope not in SCOPES:
        raise ValueError(f"scope is {scope!r}, but must be one of {list(SCOPES)}")
    for name in metrics:
        check_reported(name)
    kept, points = [], []
    for trial in trials:
        scores = [score(trial, m, md, scope) for m, md in zip(metrics, modes)]
        if any(s is None for s in scores):
            continue
        values = [float(s) for s in scores]  # type: ignore[arg-type]
        if filter_nan_and_inf and not all(math.isfinite(v) for v in values):
            continue
        values = [math.inf if v != v else v for v in values]  # NaN: the worst
        kept.append(trial)
        points.append([v if md == "min" else -v for v, md in zip(values, modes)])
    if not kept:
        return []
    from overtone._pareto import pareto_mask  # numpy, loaded when a front is asked for

    mask = pareto_mask(points)
    return [trial for trial, on_front in zip(kept, mask) if on_front]
