"""Which checkpoint to serve: the best trial's best checkpoint of an experiment, or one given.

The best checkpoint is the kept checkpoint, over every trial, whose metric (as reported
with it) is the best for ``mode``: the best trial, judged by its checkpointed results, and
that trial's best checkpoint.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from dataclasses import dataclass, field
from typing import Any

from overtone.checkpoint import Checkpoint
from overtone.serve._handle import ServeError

_STATE_FILE = "experiment_state.json"


@dataclass(frozen=True)
class Selection:
    """A checkpoint to serve and where it comes from."""

    checkpoint: Checkpoint
    config: dict[str, Any]
    trial_id: str | None = None
    trial_name: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None
    score: float | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "trial_name": self.trial_name,
            "config": self.config,
            "metrics": self.metrics,
            "metric": self.metric,
            "score": self.score,
            "checkpoint": self.checkpoint.path,
        }

    def better_than(self, other: Selection, mode: str) -> bool:
        if self.checkpoint.path == other.checkpoint.path:
            return False
        if self.score is None or other.score is None:
            return self.score is not None
        return self.score > other.score if mode == "max" else self.score < other.score


def is_experiment_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(os.path.expanduser(path), _STATE_FILE))


def experiment_path_of(source: Any) -> str | None:
    """The experiment folder behind a ResultGrid, ExperimentAnalysis or path, else None."""
    if isinstance(source, (str, os.PathLike)):
        path = os.path.abspath(os.path.expanduser(os.fspath(source)))
        return path if is_experiment_dir(path) else None
    path = getattr(source, "experiment_path", None)
    return str(path) if isinstance(path, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
        return value if math.isfinite(value) else None
    return None


def best_in_experiment(path: str, metric: str | None, mode: str | None) -> Selection | None:
    """The best checkpoint of the experiment at ``path`` now (None if it kept none yet)."""
    from overtone.analysis import ExperimentAnalysis
    from overtone.analysis._trial_record import flatten_dict

    analysis = ExperimentAnalysis(path)
    metric = metric or analysis.default_metric
    mode = mode or analysis.default_mode
    if mode not in (None, "min", "max"):
        raise ValueError(f"mode is {mode!r}, but must be 'min' or 'max'")
    with_checkpoints = [t for t in analysis.trials if t.checkpoints]
    if not with_checkpoints:
        return None
    if metric is None or mode is None:
        if len(with_checkpoints) == 1:
            trial = with_checkpoints[0]
            checkpoint, metrics = trial.checkpoints[-1]
            return Selection(checkpoint, trial.config, trial.trial_id, trial.trial_name, metrics)
        raise ValueError(
            f"metric is {metric!r} and mode is {mode!r}, but both must be given to pick the "
            f"best of the {len(with_checkpoints)} trials with checkpoints in {path} (the "
            "experiment set no default)"
        )
    best: Selection | None = None
    seen: set[str] = set()
    for trial in with_checkpoints:
        for checkpoint, metrics in trial.checkpoints:
            flat = flatten_dict(metrics)
            seen.update(flat)
            score = _number(flat.get(metric))
            if score is None:
                continue
            candidate = Selection(
                checkpoint, trial.config, trial.trial_id, trial.trial_name, metrics, metric, score
            )
            if best is None or candidate.better_than(best, mode):
                best = candidate
    if best is None:
        raise ValueError(
            f"metric is {metric!r}, but no checkpoint of {path} was reported with a finite "
            f"value of it; their metrics are: {sorted(seen)}"
        )
    return best


def from_checkpoint(checkpoint: Any, config: dict[str, Any] | None) -> Selection:
    """A checkpoint given directly (a ``Checkpoint`` or a folder)."""
    if isinstance(checkpoint, (str, os.PathLike)):
        path = os.path.abspath(os.path.expanduser(os.fspath(checkpoint)))
        if not os.path.isdir(path):
            raise ValueError(f"checkpoint is {path!r}, but must be a checkpoint folder")
        checkpoint = Checkpoint(path)
    if not isinstance(checkpoint, Checkpoint):
        raise TypeError(f"checkpoint is {checkpoint!r}, but must be a tune.Checkpoint or a folder")
    trial_id = trial_name = None
    metrics: dict[str, Any] = {}
    if config is None:  # a trial's checkpoint: its config is in the trial's params.json
        trial_dir = os.path.dirname(os.path.abspath(checkpoint.path))
        config = {}
        try:
            with open(os.path.join(trial_dir, "params.json"), encoding="utf-8") as f:
                config = json.load(f)
            trial_name = os.path.basename(trial_dir)
        except (OSError, ValueError):
            pass
    return Selection(checkpoint, dict(config or {}), trial_id, trial_name, metrics)


def from_result(result: Any, metric: str | None, mode: str | None) -> Selection:
    """A ``Result`` of one trial: its best checkpoint for metric/mode, else its latest."""
    kept = list(getattr(result, "best_checkpoints", None) or [])
    config = dict(result.config or {})
    metrics: dict[str, Any] = {}
    checkpoint = result.checkpoint
    score = None
    if metric and mode and kept:
        checkpoint = result.get_best_checkpoint(metric, mode)
        metrics = next((m for c, m in kept if c == checkpoint), {})
        score = _number(metrics.get(metric))
    elif kept:
        checkpoint, metrics = kept[-1]
    if checkpoint is None:
        raise ValueError(f"result is {result!r}, but its trial kept no checkpoint to serve")
    trial_id = (result.metrics or {}).get("trial_id")
    return Selection(
        checkpoint, config, trial_id, os.path.basename(result.path), metrics, metric, score
    )


def resolve(
    checkpoint: Any,
    config: dict[str, Any] | None,
    result: Any,
    metric: str | None,
    mode: str | None,
    follow: bool,
    startup_timeout_s: float,
) -> tuple[Selection, Any]:
    """The first checkpoint to serve, and in follow mode the function that finds better."""
    if checkpoint is not None and result is not None:
        raise ValueError("checkpoint and result are both given, but only one may be")
    if checkpoint is None and result is None:
        raise ValueError("checkpoint and result are both None, but one must say what to serve")
    source = result if result is not None else checkpoint
    experiment = experiment_path_of(source)
    deadline = time.monotonic() + startup_timeout_s
    if follow and experiment is None and isinstance(source, (str, os.PathLike)):
        # The experiment may not have written its state yet: wait for it.
        while experiment is None and time.monotonic() < deadline:
            time.sleep(0.2)
            experiment = experiment_path_of(source)
    if follow and experiment is None:
        raise ValueError(
            f"follow is True, but {source!r} is not an experiment (a folder with "
            "experiment_state.json, a ResultGrid or an ExperimentAnalysis) to follow"
        )
    if experiment is not None and not isinstance(source, Checkpoint):
        while True:
            selection = best_in_experiment(experiment, metric, mode)
            if selection is not None:
                break
            if not follow:
                raise ValueError(f"the experiment {experiment} kept no checkpoint to serve")
            if time.monotonic() >= deadline:
                raise ServeError(
                    f"the experiment {experiment} kept no checkpoint within "
                    f"startup_timeout_s={startup_timeout_s:g} s"
                )
            time.sleep(0.5)
        if config is not None:
            selection = Selection(
                selection.checkpoint,
                dict(config),
                selection.trial_id,
                selection.trial_name,
                selection.metrics,
                selection.metric,
                selection.score,
            )
        if not follow:
            return selection, None
        follow_mode = mode
        if follow_mode is None:
            from overtone.analysis import load_experiment_state

            follow_mode = load_experiment_state(experiment).get("mode") or "max"

        def better(current: Selection) -> Selection | None:
            found = best_in_experiment(experiment, metric, mode)
            if found is not None and found.better_than(current, follow_mode):
                return found
            return None

        return selection, better
    if hasattr(source, "best_checkpoints") and hasattr(source, "path"):
        return from_result(source, metric, mode), None
    return from_checkpoint(source, config), None
