"""The current generation: Tuner, TuneConfig, RunConfig, ResultGrid, Result."""

from __future__ import annotations

import os

import pytest

from overtone import tune


def train(config):
    for step in range(5):
        tune.report({"loss": (config["lr"] - 0.01) ** 2 + 1 / (step + 1), "step": step})


def _tuner(tmp_path, executor, **tune_kwargs):
    return tune.Tuner(
        train,
        param_space={"lr": tune.grid_search([0.001, 0.01, 0.1])},
        tune_config=tune.TuneConfig(**tune_kwargs),
        run_config=tune.RunConfig(
            name="sweep", storage_path=str(tmp_path), verbose=0, executor=executor
        ),
    )


def test_fit_returns_a_result_grid(tmp_path, executor):
    grid = _tuner(tmp_path, executor, metric="loss", mode="min").fit()
    assert len(grid) == 3 and grid.num_terminated == 3 and grid.num_errors == 0
    assert grid.errors == []
    best = grid.get_best_result()
    assert best.config == {"lr": 0.01}
    assert best.metrics["training_iteration"] == 5
    assert best.metrics["loss"] == pytest.approx(0.2)
    assert os.path.isdir(best.path) and best.path.startswith(str(tmp_path / "sweep"))
    assert best.error is None
    df = best.metrics_dataframe
    assert list(df["step"]) == [0, 1, 2, 3, 4]
    assert sorted(r.config["lr"] for r in grid) == [0.001, 0.01, 0.1]
    assert grid[0].metrics["config"] == grid[0].config
    table = grid.get_dataframe()
    assert len(table) == 3 and "config/lr" in table.columns
    worst = grid.get_best_result(metric="loss", mode="max")
    assert worst.config == {"lr": 0.1}
    assert grid.experiment_path == str(tmp_path / "sweep")
    assert len(tune.ExperimentAnalysis(str(tmp_path / "sweep")).trials) == 3


def test_get_best_result_needs_a_metric(tmp_path, executor):
    grid = _tuner(tmp_path, executor).fit()
    with pytest.raises(ValueError, match="metric"):
        grid.get_best_result()
    assert grid.get_best_result(metric="loss", mode="min").config == {"lr": 0.01}


def test_get_results_before_fit_is_an_error(tmp_path, executor):
    with pytest.raises(RuntimeError, match="fit"):
        _tuner(tmp_path, executor).get_results()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "maximum"}, "'maximum'"),
        ({"num_samples": 0}, "num_samples is 0"),
        ({"max_concurrent_trials": -1}, "max_concurrent_trials is -1"),
        ({"time_budget_s": -1}, "time_budget_s is -1"),
    ],
)
def test_bad_tune_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tune.TuneConfig(**kwargs)


def test_bad_run_config_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="verbose is 7"):
        tune.RunConfig(verbose=7)
    with pytest.raises(ValueError, match="max_failures is -2"):
        tune.FailureConfig(max_failures=-2)
    with pytest.raises(TypeError, match="param_space"):
        tune.Tuner(train, param_space=[1, 2])
    with pytest.raises(TypeError, match="tune_config"):
        tune.Tuner(train, tune_config={"metric": "loss"})
    with pytest.raises(ValueError, match="grid_search"):
        tune.Tuner(train, param_space={"lr": {"grid_search": 3}})


def test_trial_name_and_dirname_creators(tmp_path, executor):
    grid = tune.Tuner(
        train,
        param_space={"lr": tune.grid_search([0.1, 0.2])},
        tune_config=tune.TuneConfig(
            trial_name_creator=lambda t: f"lr-{t.config['lr']}",
            trial_dirname_creator=lambda t: f"dir_{t.config['lr']}",
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), verbose=0, executor=executor, name="named"
        ),
    ).fit()
    assert sorted(os.path.basename(r.path) for r in grid) == ["dir_0.1", "dir_0.2"]
    analysis = tune.ExperimentAnalysis(str(tmp_path / "named"))
    assert sorted(t.trial_name for t in analysis.trials) == ["lr-0.1", "lr-0.2"]
