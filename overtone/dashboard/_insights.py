"""What the dashboard computes from an experiment's files: scheduler views and importance.

The scheduler's own state is pickled (``search_state.pkl``) and never unpickled here: a
viewer must not run code from the files it shows. What a scheduler did is read from what it
left on disk instead:

- ASHA and HyperBand stop trials only when they reach a rung, so the iterations at which
  trials were stopped early are the rungs; for each, the trials that reached it, their
  metric there, and which went on (promoted) or stopped.
- PBT writes every exploit to ``pbt_global.txt`` (see ``overtone.schedulers._pbt_log``).
"""

from __future__ import annotations

import json
from typing import Any

from overtone.cli._views import UNFINISHED, ExperimentView, finite, is_number
from overtone.storage._layout import PBT_GLOBAL_FILE

#: A fixed seed for the importance forest: the experiment's seed is not in its state file,
#: and the same files must always give the same estimate.
IMPORTANCE_SEED = 0


def rungs(view: ExperimentView, metric: str | None, mode: str | None) -> dict[str, Any]:
    """The rungs at which trials were stopped early, with who reached, went on or stopped."""
    reached: dict[str, int] = {}
    for trial in view.trials.values():
        it = trial.result().get("training_iteration")
        if is_number(it):
            reached[trial.trial_id] = int(it)
    if not reached:
        return {"kind": "rungs", "rungs": [], "max_iteration": None}
    top = max(reached.values())
    stopped = {
        tid for tid, it in reached.items() if view.trials[tid].status == "TERMINATED" and it < top
    }
    milestones = sorted({reached[tid] for tid in stopped})
    values: dict[str, dict[int, Any]] = {}
    if metric and milestones:
        wanted = set(milestones)
        for tid in reached:
            at: dict[int, Any] = {}
            for row in view.results(tid):
                it = row.get("training_iteration")
                if it in wanted:
                    at[int(it)] = finite(row.get(metric))
            values[tid] = at
    out = []
    for milestone in milestones:
        entries = []
        for tid, it in reached.items():
            if it < milestone:
                continue
            status = view.trials[tid].status
            if tid in stopped and it == milestone:
                outcome = "stopped"
            elif it > milestone:
                outcome = "promoted"
            elif status in UNFINISHED:
                outcome = "running"
            else:
                outcome = "ended"
            entries.append(
                {
                    "trial_id": tid,
                    "value": values.get(tid, {}).get(milestone),
                    "outcome": outcome,
                }
            )
        reverse = mode == "max"
        entries.sort(
            key=lambda e: (
                e["value"] is None,
                -e["value"] if reverse and e["value"] is not None else e["value"] or 0,
            )
        )
        out.append(
            {
                "milestone": milestone,
                "reached": len(entries),
                "promoted": sum(e["outcome"] == "promoted" for e in entries),
                "stopped": sum(e["outcome"] == "stopped" for e in entries),
                "trials": entries,
            }
        )
    return {"kind": "rungs", "rungs": out, "max_iteration": top, "stopped_early": len(stopped)}


def pbt_lineage(view: ExperimentView) -> dict[str, Any] | None:
    """PBT's exploits from ``pbt_global.txt``, oldest first; None if there is no such log."""
    data = view.store.read_bytes(view.name, PBT_GLOBAL_FILE)
    if data is None:
        return None
    exploits = []
    for line in data.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if not isinstance(row, list) or len(row) < 8:
            continue
        _, _, trial_id, source_id, step, source_step, source_config, new_config = row[:8]
        source_config = source_config if isinstance(source_config, dict) else {}
        new_config = new_config if isinstance(new_config, dict) else {}
        changed = {
            key: {"from": source_config.get(key), "to": value}
            for key, value in new_config.items()
            if source_config.get(key) != value
        }
        exploits.append(
            {
                "trial_id": str(trial_id),
                "source_id": str(source_id),
                "step": step,
                "source_step": source_step,
                "config": new_config,
                "changed": changed,
            }
        )
    return {"kind": "pbt", "exploits": exploits}


def scheduler_view(view: ExperimentView, metric: str | None, mode: str | None) -> dict[str, Any]:
    lineage = pbt_lineage(view)
    if lineage is not None:
        return lineage
    return rungs(view, metric, mode)


def importance(view: ExperimentView, metric: str, mode: str | None) -> dict[str, Any]:
    """How much each hyperparameter explains ``metric`` (each trial's best value): the
    impurity importances of a random forest (scikit-learn) fitted on the trials."""
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError as exc:
        raise ImportError(
            f"hyperparameter importance needs scikit-learn: pip install 'overtone[dashboard]' "
            f"({exc})"
        ) from exc
    import numpy as np

    keys = view.config_keys()
    rows, targets = [], []
    for trial in view.trials.values():
        value = trial.best(metric, mode)
        if not is_number(value) or value != value or abs(value) == float("inf"):
            continue
        rows.append(view.row(trial, None, None)["config"])
        targets.append(float(value))
    columns: list[str] = []
    matrix: list[list[float]] = []
    for key in keys:
        column = [row.get(key) for row in rows]
        distinct = {json.dumps(v, sort_keys=True, default=str) for v in column}
        if len(distinct) < 2:
            continue  # a constant explains nothing
        if all(is_number(v) for v in column):
            encoded = [float(v) for v in column]
        else:  # categories: their order of first appearance
            codes: dict[str, int] = {}
            encoded = [
                float(codes.setdefault(json.dumps(v, sort_keys=True, default=str), len(codes)))
                for v in column
            ]
        columns.append(key)
        matrix.append(encoded)
    if len(targets) < 3 or not columns:
        return {
            "metric": metric,
            "importance": [],
            "trials": len(targets),
            "note": "needs at least 3 trials with the metric and a parameter that varies",
        }
    x = np.array(matrix).T
    forest = RandomForestRegressor(n_estimators=100, random_state=IMPORTANCE_SEED, n_jobs=1)
    forest.fit(x, np.array(targets))
    pairs = sorted(zip(columns, forest.feature_importances_), key=lambda p: -p[1])
    return {
        "metric": metric,
        "trials": len(targets),
        "importance": [{"param": k, "importance": float(v)} for k, v in pairs],
        "note": "random-forest impurity importance of each trial's best value",
    }
