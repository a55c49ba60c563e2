"""Experiment directories written by hand, in the layout the controller writes."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

NAN = math.nan


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def write_experiment(
    root: Path,
    trials: list[dict[str, Any]],
    metric: str | None = "mean_loss",
    mode: str | None = "min",
    **state_overrides: Any,
) -> Path:
    """Write an experiment to ``root``; return its path.

    Each trial spec has ``trial_id``, ``config``, ``status`` and optionally ``results`` (the
    user metrics of each report), ``checkpoints`` (iterations that kept one), ``error``
    (traceback text), ``num_failures`` and ``torn`` (a partial line to append to result.json).
    """
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, spec in enumerate(trials):
        trial_id = spec["trial_id"]
        config = spec["config"]
        dirname = f"train_{trial_id}_{index}_" + ",".join(f"{k}={v}" for k, v in config.items())
        trial_dir = root / dirname
        trial_dir.mkdir()
        (trial_dir / "params.json").write_text(json.dumps(config))
        results = []
        specs = spec.get("results", [])
        for i, metrics in enumerate(specs):
            results.append(
                {
                    **metrics,
                    "training_iteration": i + 1,
                    "trial_id": trial_id,
                    "done": spec["status"] == "TERMINATED" and i == len(specs) - 1,
                    "time_total_s": float(i + 1),
                    "timestamp": 1700000000 + i,
                    "config": config,
                }
            )
        lines = "".join(json.dumps(r) + "\n" for r in results)
        if results or spec.get("torn"):
            (trial_dir / "result.json").write_text(lines + spec.get("torn", ""))
        if results:
            rows = [_flatten({k: v for k, v in r.items() if k != "config"}) for r in results]
            fields = sorted({k for row in rows for k in row})
            with open(trial_dir / "progress.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        error_file = None
        if "error" in spec:
            error_file = "error.txt"
            (trial_dir / error_file).write_text(spec["error"])
        checkpoints = []
        for iteration in spec.get("checkpoints", []):
            name = f"checkpoint_{iteration:06d}"
            (trial_dir / name).mkdir()
            (trial_dir / name / "state.txt").write_text(str(iteration))
            metrics = {k: v for k, v in results[iteration - 1].items() if k != "config"}
            checkpoints.append({"dirname": name, "metrics": metrics})
        last = {k: v for k, v in results[-1].items() if k != "config"} if results else {}
        entries.append(
            {
                "trial_id": trial_id,
                "trial_name": f"train_{trial_id}",
                "dirname": dirname,
                "config": config,
                "status": spec["status"],
                "experiment_tag": dirname.split("_", 2)[2],
                "last_result": last,
                "num_failures": spec.get("num_failures", 0),
                "error_file": error_file,
                "checkpoints": checkpoints,
                "resources": spec.get("resources", {"cpu": 1, "gpu": 0}),
            }
        )
    state = {
        "format_version": 1,
        "overtone_version": "0.1.0",
        "name": root.name,
        "start_time": 1700000000.0,
        "metric": metric,
        "mode": mode,
        "trials": entries,
    }
    state.update(state_overrides)
    (root / "experiment_state.json").write_text(json.dumps(state))
    return root


# mean_loss by scope (mode min): last -> b (1.1); avg and last-10-avg -> a (2.0 < 2.07);
# last-5-avg -> b (1.48); all -> a (1.0). d's last value is NaN; c failed after one report.
TRIALS: list[dict[str, Any]] = [
    {
        "trial_id": "a",
        "config": {"alpha": 0.001, "beta": 2},
        "status": "TERMINATED",
        "results": [
            {"mean_loss": 3.0, "score": 1.0, "eval": {"f1": 0.2, "acc": 0.5}},
            {"mean_loss": 1.0, "score": 2.0, "eval": {"f1": 0.6, "acc": 0.7}},
            {"mean_loss": 2.0, "score": 3.0, "eval": {"f1": 0.4, "acc": 0.9}},
        ],
        "checkpoints": [1, 2, 3],
    },
    {
        "trial_id": "b",
        "config": {"alpha": 0.01, "beta": 3, "opt": {"name": "sgd"}},
        "status": "TERMINATED",
        "results": [{"mean_loss": v, "score": 0.5} for v in (5.0, 2.5, 1.5, 1.2, 1.1, 1.1)],
    },
    {
        "trial_id": "c",
        "config": {"alpha": 0.1, "beta": 1},
        "status": "ERROR",
        "results": [{"mean_loss": 4.0, "score": 9.0}],
        "error": "Traceback (most recent call last):\nValueError: boom\n",
        "num_failures": 1,
        "torn": '{"mean_loss": 3.',
        "resources": {"cpu": 2, "gpu": 1},
    },
    {
        "trial_id": "d",
        "config": {"alpha": 1.0, "beta": 0},
        "status": "TERMINATED",
        "results": [
            {"mean_loss": 0.05, "score": math.inf, "only_nan": NAN},
            {"mean_loss": NAN, "score": math.inf, "only_nan": NAN},
        ],
    },
    {"trial_id": "e", "config": {"alpha": 2.0, "beta": 5}, "status": "PENDING"},
]


@pytest.fixture
def make_experiment(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(trials: list[dict[str, Any]] | None = None, **kwargs: Any) -> Path:
        return write_experiment(tmp_path / f"exp{next(counter)}", trials or TRIALS, **kwargs)

    return make


@pytest.fixture
def experiment(make_experiment: Callable[..., Path]) -> str:
    return os.fspath(make_experiment())
