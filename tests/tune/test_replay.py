"""tune.replay: a recorded experiment re-run under another scheduler at simulated time."""

from __future__ import annotations

import time

import pytest

from overtone import tune
from overtone.tune.schedulers import ASHAScheduler

MAX_T = 9


def train(config):
    for t in range(1, MAX_T + 1):
        time.sleep(0.001)
        tune.report({"loss": config["q"] + 0.2 / t, "acc": 1 - config["gap"] - 0.1 / t})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A real experiment (worker processes, FIFO): 16 trials run to the end."""
    grid = tune.Tuner(
        train,
        param_space={"q": tune.uniform(0, 1), "gap": tune.uniform(0.1, 0.5)},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=16, seed=3),
        run_config=tune.RunConfig(
            name="recorded", storage_path=str(tmp_path_factory.mktemp("rec")), verbose=0
        ),
    ).fit()
    assert grid.num_errors == 0
    return grid


def test_replay_under_asha_finds_the_best_for_less(recorded, tmp_path):
    report = tune.replay(
        recorded.experiment_path,
        scheduler=ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=3),
        storage_path=str(tmp_path),
        seed=0,
    )
    recorded_best = recorded.get_best_result()
    assert report.recorded_best_value == recorded_best.metrics["loss"]
    assert report.recorded_best_config == recorded_best.config
    # The curves do not cross: ASHA keeps the best trial to the end.
    assert report.best_config == recorded_best.config
    assert report.best_value == report.recorded_best_value
    assert report.recorded_cost.iterations == 16 * MAX_T
    assert report.cost.trials == 16 and report.cost.iterations < 16 * MAX_T / 2
    assert 0.5 < report.savings < 1.0
    assert report.cost.wall_s is not None and report.cost.wall_s > 0
    text = str(report)
    assert "replay: 16 trials" in text and "compute saved" in text
    # Each replayed result is the recorded one, iteration by iteration.
    recorded_by_config = {str(r.config): r.metrics_dataframe for r in recorded}
    for r in report.result_grid:
        replayed = r.metrics_dataframe
        original = recorded_by_config[str(r.config)]
        n = len(replayed)
        assert list(replayed["loss"]) == list(original["loss"][:n])
        assert list(replayed["time_this_iter_s"]) == list(original["time_this_iter_s"][:n])


def test_replay_with_a_searcher_and_several_metrics(recorded, tmp_path):
    report = tune.replay(
        recorded.experiment_path,
        search_alg=tune.search.BasicVariantGenerator(),
        param_space={"q": tune.uniform(0, 1), "gap": tune.uniform(0.1, 0.5)},
        num_samples=10,
        metric=["loss", "acc"],
        mode=["min", "max"],
        scheduler=ASHAScheduler(max_t=MAX_T, reduction_factor=3),
        storage_path=str(tmp_path),
        seed=5,
    )
    assert report.cost.trials == 10
    assert report.pareto_front and report.best_value is None
    # New configs get the curves of their nearest recorded ones.
    recorded_losses = {round(v, 9) for r in recorded for v in r.metrics_dataframe["loss"]}
    for r in report.result_grid:
        assert round(r.metrics["loss"], 9) in recorded_losses


def test_replay_arguments_are_checked(recorded, tmp_path):
    with pytest.raises(ValueError, match="param_space is given, but without search_alg"):
        tune.replay(recorded.experiment_path, param_space={"x": 1})
    grid = tune.Tuner(
        lambda config: None,
        param_space={"x": tune.grid_search([1])},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    with pytest.raises(ValueError, match="has no trial with results"):
        tune.replay(grid.experiment_path)
