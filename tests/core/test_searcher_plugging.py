"""Any Searcher plugs into the loop: suggestions merged with the space, FINISHED ends it."""

from __future__ import annotations

import pytest

from overtone import tune
from overtone.schedulers import FIFOScheduler
from overtone.search import ConcurrencyLimiter, Searcher


class ListSearcher(Searcher):
    """Suggests the given points in order; records what it hears back."""

    def __init__(self, points, finish=True):
        super().__init__()
        self.points = list(points)
        self.completed = {}
        self.results = []
        self.finish = finish

    def suggest(self, trial_id):
        if not self.points:
            return Searcher.FINISHED if self.finish else None
        return self.points.pop(0)

    def on_trial_result(self, trial_id, result):
        self.results.append((trial_id, result["training_iteration"]))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed[trial_id] = (result["loss"] if result else None, error)


def train(config):
    for _ in range(2):
        tune.report(loss=config["x"] * 10 + config["const"] + config["derived"])


def test_suggestions_are_merged_with_constants_and_sample_from(tmp_path, executor):
    searcher = ListSearcher([{"x": 1}, {"x": 2}, {"x": 3}])
    analysis = tune.run(
        train,
        config={
            "x": tune.uniform(0, 5),
            "const": 100,
            "derived": tune.sample_from(lambda spec: spec.config.x * 1000),
        },
        search_alg=searcher,
        num_samples=10,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    # FINISHED after three points ends the experiment although num_samples is 10.
    assert sorted(t.config["x"] for t in analysis.trials) == [1, 2, 3]
    assert all(t.config["const"] == 100 for t in analysis.trials)
    assert all(t.config["derived"] == t.config["x"] * 1000 for t in analysis.trials)
    assert sorted(v[0] for v in searcher.completed.values()) == [1110, 2120, 3130]
    assert len(searcher.results) == 6


class Endless(Searcher):
    def __init__(self):
        super().__init__()
        self.n = 0

    def suggest(self, trial_id):
        self.n += 1
        return {"x": self.n}


def test_num_samples_caps_an_endless_searcher(tmp_path, executor):
    analysis = tune.run(
        train,
        config={"const": 0, "derived": 0},
        search_alg=ConcurrencyLimiter(Endless(), max_concurrent=1),
        num_samples=4,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert sorted(t.config["x"] for t in analysis.trials) == [1, 2, 3, 4]


class _OwnSpaceSearcher(Searcher):
    """A searcher with a space of its own, which refuses the experiment's (as in Ray)."""

    def set_search_properties(self, metric, mode, config, **spec):
        super().set_search_properties(metric, mode, config, **spec)
        return False

    def suggest(self, trial_id):
        return {"x": 1.0}


def test_a_searcher_that_refuses_the_space_is_an_error_naming_the_domains(tmp_path):
    with pytest.raises(ValueError, match=r"_OwnSpaceSearcher refused .* \(it has x, opt/lr\)"):
        tune.run(
            lambda config: tune.report({"loss": config["x"]}),
            config={"x": tune.uniform(0, 1), "opt": {"lr": tune.loguniform(1e-4, 1e-1)}},
            search_alg=_OwnSpaceSearcher(),
            num_samples=1,
            storage_path=str(tmp_path),
            verbose=0,
        )
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_a_searcher_that_refuses_only_constants_runs(tmp_path):
    analysis = tune.run(
        lambda config: tune.report({"loss": config["x"]}),
        config={"batch": 32},
        search_alg=_OwnSpaceSearcher(),
        num_samples=2,
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert [t.config for t in analysis.trials] == [{"x": 1.0, "batch": 32}] * 2


class _OwnMetricScheduler(FIFOScheduler):
    def set_search_properties(self, metric, mode, **spec):
        return metric is None


def test_a_scheduler_that_refuses_the_metric_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"_OwnMetricScheduler refused metric='loss'"):
        tune.run(
            lambda config: tune.report({"loss": 1.0}),
            scheduler=_OwnMetricScheduler(),
            metric="loss",
            mode="min",
            storage_path=str(tmp_path),
            verbose=0,
        )
