from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from overtone._errors import MetricNotFoundError, TrialError
from overtone.analysis import ExperimentAnalysis, Result, ResultGrid
from overtone.checkpoint import Checkpoint

MakeExperiment = Callable[..., Path]


@pytest.fixture
def grid(experiment: str) -> ResultGrid:
    return ResultGrid(ExperimentAnalysis(experiment))


def test_sequence(grid: ResultGrid, experiment: str) -> None:
    assert len(grid) == 5
    assert all(isinstance(r, Result) for r in grid)
    assert [r.metrics["trial_id"] for r in grid] == ["a", "b", "c", "d", "e"]  # type: ignore[index]
    assert grid[-1].metrics == {"trial_id": "e", "config": {"alpha": 2.0, "beta": 5}}
    assert grid.experiment_path == experiment
    assert grid.filesystem is None


def test_result_fields(grid: ResultGrid) -> None:
    a = grid[0]
    assert a.config == {"alpha": 0.001, "beta": 2}
    assert a.metrics is not None and a.metrics["mean_loss"] == 2.0
    assert a.metrics["eval"] == {"f1": 0.4, "acc": 0.9}
    assert a.error is None
    assert a.filesystem is None
    assert os.path.basename(a.path) == "train_a_0_alpha=0.001,beta=2"
    assert a.checkpoint == Checkpoint(os.path.join(a.path, "checkpoint_000003"))
    assert a.best_checkpoints is not None
    assert [m["training_iteration"] for _, m in a.best_checkpoints] == [1, 2, 3]
    assert a.get_best_checkpoint("mean_loss", "min") == Checkpoint(
        os.path.join(a.path, "checkpoint_000002")
    )
    assert a.get_best_checkpoint("eval/f1", "max") == Checkpoint(
        os.path.join(a.path, "checkpoint_000002")
    )
    df = a.metrics_dataframe
    assert df is not None and list(df["mean_loss"]) == [3.0, 1.0, 2.0]
    assert a.metrics_dataframe is df


def test_result_get_best_checkpoint_errors(grid: ResultGrid) -> None:
    with pytest.raises(RuntimeError, match="kept no checkpoints"):
        grid[1].get_best_checkpoint("mean_loss", "min")
    with pytest.raises(ValueError, match="mode is 'up'"):
        grid[0].get_best_checkpoint("mean_loss", "up")
    with pytest.raises(RuntimeError, match=r"metric 'nope' .* choose from: \['done', 'eval/acc'"):
        grid[0].get_best_checkpoint("nope", "min")


def test_errors(grid: ResultGrid) -> None:
    assert grid.num_errors == 1
    assert grid.num_terminated == 3
    (error,) = grid.errors
    assert isinstance(error, TrialError)
    assert error.trial_name == "train_c"
    assert error.traceback_text == "Traceback (most recent call last):\nValueError: boom\n"
    assert grid[2].error is error
    assert grid[4].error is None  # pending, never failed


def test_repr(grid: ResultGrid) -> None:
    text = repr(grid[0])
    assert text.startswith("Result(metrics={'mean_loss': 2.0, 'score': 3.0, 'eval': {")
    assert "config" not in text and "training_iteration" not in text
    assert "filesystem='local'" in text and "checkpoint_000003" in text
    assert repr(grid[2]).startswith("Result(error=TrialError, metrics={'mean_loss': 4.0")
    assert repr(grid).startswith("ResultGrid<[\n  Result(")


def test_get_best_result(grid: ResultGrid) -> None:
    assert grid.get_best_result().metrics["trial_id"] == "b"  # type: ignore[index]
    assert grid.get_best_result(scope="all").metrics["trial_id"] == "a"  # type: ignore[index]
    best = grid.get_best_result("score", "max", filter_nan_and_inf=False)
    assert best.metrics["trial_id"] == "d"  # type: ignore[index]
    assert grid.get_best_result("eval/f1", "max") is grid[0]


def test_get_best_result_unknown_metric(grid: ResultGrid) -> None:
    with pytest.raises(RuntimeError) as info:
        grid.get_best_result("accuracy", "max")
    message = str(info.value)
    assert "No best trial found for the given metric: accuracy" in message
    assert "'eval/f1', 'mean_loss'" in message
    assert isinstance(info.value, MetricNotFoundError)


def test_get_best_result_all_nan(grid: ResultGrid) -> None:
    with pytest.raises(RuntimeError, match="only_nan. All values reported .* NaN or infinite"):
        grid.get_best_result("only_nan", "min")


def test_get_best_result_needs_metric_and_mode(make_experiment: MakeExperiment) -> None:
    grid = ResultGrid(ExperimentAnalysis(make_experiment(metric=None, mode=None)))
    with pytest.raises(ValueError, match="No metric is provided"):
        grid.get_best_result()
    with pytest.raises(ValueError, match="No mode is provided"):
        grid.get_best_result("mean_loss")
    assert grid.get_best_result("mean_loss", "max").metrics["trial_id"] == "c"  # type: ignore[index]


def test_single_trial_is_best_without_metric(make_experiment: MakeExperiment) -> None:
    one = [{"trial_id": "x", "config": {"v": 1}, "status": "TERMINATED", "results": [{"v": 1}]}]
    grid = ResultGrid(ExperimentAnalysis(make_experiment(one, metric=None, mode=None)))
    assert grid.get_best_result().config == {"v": 1}


def test_get_dataframe(grid: ResultGrid, experiment: str) -> None:
    df = grid.get_dataframe()
    assert list(df["trial_id"]) == ["a", "b", "c", "d"]
    assert list(df["training_iteration"]) == [3, 6, 1, 2]
    best = grid.get_dataframe(filter_metric="mean_loss", filter_mode="min")
    assert list(best["mean_loss"]) == [1.0, 1.1, 4.0, 0.05]
    assert list(best["config/alpha"]) == [0.001, 0.01, 0.1, 1.0]
    assert all(path.startswith(experiment) for path in best["logdir"])
