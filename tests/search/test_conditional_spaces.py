"""Conditional spaces: branches of a tune.choice with their own domains and grids, and
sample_from functions that return search-space objects; through the real controller, with
the basic generator, OptunaSearch and HyperOptSearch."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest

from overtone import tune
from overtone.space._variants import generate_variants


def _space():
    return {
        "model": tune.choice(
            [
                {"type": "svm", "C": tune.loguniform(1e-3, 1e3)},
                {"type": "rf", "n": tune.grid_search([10, 100]), "depth": tune.randint(2, 6)},
            ]
        ),
        "lr": tune.uniform(0.0, 1.0),
    }


def train(config):
    model = config["model"]
    if model["type"] == "svm":
        score = abs(np.log10(model["C"]))
    else:
        score = model["n"] / 100 + model["depth"]
    tune.report({"score": float(score) + config["lr"]})


def _check_configs(configs):
    for config in configs:
        model = config["model"]
        assert isinstance(config["lr"], float) and 0 <= config["lr"] <= 1
        if model["type"] == "svm":
            assert set(model) == {"type", "C"} and 1e-3 <= model["C"] <= 1e3
        else:
            assert set(model) == {"type", "n", "depth"}
            assert model["n"] in (10, 100) and model["depth"] in range(2, 6)


def test_basic_generator_expands_a_grid_per_branch(tmp_path):
    grid = tune.Tuner(
        train,
        param_space=_space(),
        tune_config=tune.TuneConfig(num_samples=12, seed=4),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert grid.num_errors == 0
    configs = [r.config for r in grid]
    _check_configs(configs)
    kinds = Counter(c["model"]["type"] for c in configs)
    rf = [c for c in configs if c["model"]["type"] == "rf"]
    # Each sample that picked "rf" became two trials, one per n, sharing the values drawn
    # outside the branch (those inside are drawn per grid point, as for a top-level grid).
    assert len(configs) == kinds["svm"] + kinds["rf"] == 12 + kinds["rf"] // 2
    pairs = Counter(c["lr"] for c in rf)
    assert all(count == 2 for count in pairs.values())
    assert {c["model"]["n"] for c in rf} == {10, 100}


def test_sample_from_returning_domains_gets_them_sampled(tmp_path):
    def train_channels(config):
        channels = config["channels"]
        assert isinstance(channels, list) and len(channels) == config["depth"]
        assert all(c in (10, 20, 30) for c in channels)
        tune.report({"width": sum(channels)})

    space = {
        "depth": tune.randint(2, 5),
        "channels": tune.sample_from(lambda spec: [tune.choice([10, 20, 30])] * spec.config.depth),
        "opt": tune.sample_from(lambda spec: {"lr": tune.loguniform(1e-4, 1e-1)}),
    }
    grid = tune.Tuner(
        train_channels,
        param_space=space,
        tune_config=tune.TuneConfig(num_samples=6, seed=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert grid.num_errors == 0
    for r in grid:
        assert len(r.config["channels"]) == r.config["depth"]
        assert 1e-4 <= r.config["opt"]["lr"] <= 1e-1
        assert "Categorical" not in os.path.basename(r.path)
        assert "choice" not in os.path.basename(r.path)
    # Each list entry is its own draw, not one draw repeated.
    assert any(len(set(r.config["channels"])) > 1 for r in grid)


def test_sample_from_returning_a_grid_expands_it():
    space = {"x": tune.sample_from(lambda spec: tune.grid_search([1, 2, 3]))}
    configs = [c for _, c in generate_variants(space, np.random.default_rng(0))]
    assert configs == [{"x": 1}, {"x": 2}, {"x": 3}]


@pytest.mark.parametrize("library", ["optuna", "hyperopt"])
def test_library_searchers_follow_the_branches(tmp_path, library):
    pytest.importorskip(library)
    if library == "optuna":
        from overtone.tune.search.optuna import OptunaSearch

        searcher = OptunaSearch()
    else:
        from overtone.tune.search.hyperopt import HyperOptSearch

        searcher = HyperOptSearch(n_initial_points=4)
    grid = tune.Tuner(
        train,
        param_space=_space(),
        tune_config=tune.TuneConfig(
            metric="score", mode="min", search_alg=searcher, num_samples=16, seed=2
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert grid.num_errors == 0 and len(grid) == 16
    configs = [r.config for r in grid]
    _check_configs(configs)
    assert {c["model"]["type"] for c in configs} == {"svm", "rf"}
    if library == "optuna":
        study = searcher._study
        names = set().union(*(t.params for t in study.trials))
        assert names == {"model", "model/0/C", "model/1/n", "model/1/depth", "lr"}
        # A branch's parameters are asked only when Optuna picked that branch.
        for t in study.trials:
            branch = t.params["model"]
            assert ("model/0/C" in t.params) == (branch == 0)
            assert ("model/1/n" in t.params) == (branch == 1)
    else:
        docs = searcher._trials.trials
        for doc in docs:
            vals = doc["misc"]["vals"]
            assert bool(vals["model/0/C"]) == (vals["model"] == [0])
            assert bool(vals["model/1/n"]) == (vals["model"] == [1])


def test_points_to_evaluate_with_a_conditional_space_is_refused():
    pytest.importorskip("optuna")
    from overtone.tune.search.optuna import OptunaSearch

    with pytest.raises(ValueError, match="points_to_evaluate cannot be used with a conditional"):
        OptunaSearch(space=_space(), metric="score", mode="min", points_to_evaluate=[{"lr": 0.5}])
