"""Changing a study while it lives: more or fewer samples, a new param space, on restore."""

from __future__ import annotations

import pytest

from overtone import tune


def train(config):
    for t in range(1, 4):
        tune.report({"loss": (config["x"] - 0.3) ** 2 + 0.1 / t})


def _first(tmp_path, num_samples=4, search_alg=None, x=(0.0, 1.0)):
    return tune.Tuner(
        train,
        param_space={"x": tune.uniform(*x)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=num_samples, seed=1, search_alg=search_alg
        ),
        run_config=tune.RunConfig(name="study", storage_path=str(tmp_path), verbose=0),
    ).fit()


def test_restore_with_more_samples_extends_the_study(tmp_path):
    first = _first(tmp_path)
    old = {r.metrics["trial_id"]: r.config for r in first}
    tuner = tune.Tuner.restore(
        first.experiment_path,
        train,
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=7, seed=1),
    )
    grid = tuner.fit()
    assert len(grid) == 7 and grid.num_errors == 0
    kept = {r.metrics["trial_id"]: r.config for r in grid if r.metrics["trial_id"] in old}
    assert kept == old  # the finished trials are kept as they were, not run again
    assert all(r.metrics["training_iteration"] == 3 for r in grid)


def test_run_resume_with_more_samples(tmp_path):
    kwargs = dict(
        config={"x": tune.uniform(0, 1)},
        metric="loss",
        mode="min",
        name="study",
        storage_path=str(tmp_path),
        verbose=0,
        seed=2,
    )
    first = tune.run(train, num_samples=3, **kwargs)
    assert len(first.trials) == 3
    again = tune.run(train, num_samples=5, resume=True, **kwargs)
    assert len(again.trials) == 5
    # Fewer than there are: nothing new, nothing deleted.
    fewer = tune.run(train, num_samples=2, resume=True, **kwargs)
    assert len(fewer.trials) == 5


def test_a_new_space_warm_starts_the_searcher_and_marks_what_no_longer_fits(tmp_path):
    pytest.importorskip("optuna")
    from overtone.tune.search.optuna import OptunaSearch

    first = _first(tmp_path, num_samples=6, search_alg=OptunaSearch(), x=(0.0, 1.0))
    inside = [r for r in first if r.config["x"] <= 0.5]
    assert inside and len(inside) < 6
    searcher = OptunaSearch()
    tuner = tune.Tuner.restore(
        first.experiment_path,
        train,
        param_space={"x": tune.uniform(0.0, 0.5)},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=9, search_alg=searcher),
    )
    grid = tuner.fit()
    assert len(grid) == 9
    analysis = tune.ExperimentAnalysis(grid.experiment_path)
    marked = {t.trial_id for t in analysis.trials if t.out_of_space}
    assert marked == {r.metrics["trial_id"] for r in first if r.config["x"] > 0.5}
    new = [t for t in analysis.trials if t.trial_id not in {r.metrics["trial_id"] for r in first}]
    assert len(new) == 3 and all(0 <= t.config["x"] <= 0.5 for t in new)
    # The fresh searcher was told about the finished trials that fit its space.
    study = searcher._study
    told = [t for t in study.trials if t.state.name == "COMPLETE"][: len(inside)]
    assert sorted(t.params["x"] for t in told) == sorted(r.config["x"] for r in inside)
    assert len(study.trials) == len(inside) + 3


def test_config_fits_and_space_key():
    from overtone._study_change import config_fits, space_key

    space = {
        "x": tune.uniform(0, 1),
        "act": tune.choice(["relu", "tanh"]),
        "model": tune.choice([{"type": "svm", "C": tune.loguniform(1e-3, 1)}, {"type": "rf"}]),
        "n": tune.grid_search([10, 100]),
        "steps": 5,
    }
    good = {"x": 0.5, "act": "tanh", "model": {"type": "rf"}, "n": 100, "steps": 7}
    assert config_fits(good, space)
    assert config_fits({**good, "model": {"type": "svm", "C": 0.01}}, space)
    assert not config_fits({**good, "x": 1.5}, space)
    assert not config_fits({**good, "act": "gelu"}, space)
    assert not config_fits({**good, "n": 50}, space)
    assert not config_fits({**good, "model": {"type": "svm", "C": 5.0}}, space)
    assert not config_fits({**good, "model": {"type": "knn"}}, space)
    # Constants do not make another study; domains do.
    assert space_key(space) == space_key({**space, "steps": 9})
    assert space_key(space) != space_key({**space, "x": tune.uniform(0, 2)})
