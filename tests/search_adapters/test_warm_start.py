"""Warm start: a new experiment's searcher learns from an earlier experiment's trials."""

from __future__ import annotations

import logging

import pytest

from overtone import tune


def train(config):
    if config["x"] > 9.5:
        raise RuntimeError("diverged")
    tune.report({"loss": (config["x"] - 3.0) ** 2})


SPACE = {"x": tune.uniform(0.0, 10.0)}


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    grid = tune.Tuner(
        train,
        param_space={"x": tune.grid_search([0.5, 2.0, 2.9, 6.0, 9.0, 9.9])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(
            name="earlier", storage_path=str(tmp_path_factory.mktemp("w")), verbose=0
        ),
    ).fit()
    assert grid.num_errors == 1
    return grid


@pytest.mark.parametrize("source", ["path", "analysis", "grid"])
def test_optuna_learns_from_the_earlier_trials(earlier, tmp_path, source):
    optuna = pytest.importorskip("optuna")
    from overtone.tune.search.optuna import OptunaSearch

    given = {
        "path": earlier.experiment_path,
        "analysis": tune.ExperimentAnalysis(earlier.experiment_path),
        "grid": earlier,
    }[source]
    searcher = OptunaSearch(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
    grid = tune.Tuner(
        train,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", search_alg=searcher, num_samples=4, warm_start=given
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert len(grid) == 4
    study = searcher._study
    states = [t.state.name for t in study.trials]
    assert states[:6].count("COMPLETE") == 5 and states[:6].count("FAIL") == 1
    warm = sorted(t.params["x"] for t in study.trials[:6] if t.state.name == "COMPLETE")
    assert warm == [0.5, 2.0, 2.9, 6.0, 9.0]
    assert len(study.trials) == 10
    values = sorted(t.values[0] for t in study.trials[:6] if t.values)
    assert values[0] == pytest.approx(0.01)


def test_hyperopt_learns_from_the_earlier_trials(earlier, tmp_path):
    pytest.importorskip("hyperopt")
    from overtone.tune.search.hyperopt import HyperOptSearch

    searcher = HyperOptSearch(n_initial_points=2)
    grid = tune.Tuner(
        train,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", search_alg=searcher, num_samples=3, warm_start=earlier
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert len(grid) == 3
    docs = searcher._trials._dynamic_trials  # the failed one included (.trials hides it)
    assert len(docs) == 9
    losses = sorted(d["result"]["loss"] for d in docs[:6] if "loss" in d["result"])
    assert losses[0] == pytest.approx(0.01) and len(losses) == 5
    assert [d["result"]["status"] for d in docs[:6]].count("fail") == 1


def test_a_searcher_that_does_not_learn_says_so(earlier, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="overtone"):
        tune.Tuner(
            train,
            param_space={"x": tune.uniform(0, 1)},
            tune_config=tune.TuneConfig(metric="loss", mode="min", warm_start=earlier),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
        ).fit()
    assert "BasicVariantGenerator learned from none of the earlier trials" in caplog.text


def test_a_narrowed_space_leaves_out_what_no_longer_fits(earlier):
    pytest.importorskip("optuna")
    from overtone.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(space={"x": tune.uniform(0.0, 5.0)}, metric="loss", mode="min")
    analysis = tune.ExperimentAnalysis(earlier.experiment_path)
    assert searcher.add_evaluated_trials(analysis) == 3  # 0.5, 2.0, 2.9; not 6, 9 or 9.9
    with pytest.raises(ValueError, match="a warm start needs the metric"):
        OptunaSearch(space={"x": tune.uniform(0.0, 5.0)}).add_evaluated_trials(analysis)
    with pytest.raises(TypeError, match="warm start source is 'nowhere'"):
        searcher.add_evaluated_trials("nowhere")
