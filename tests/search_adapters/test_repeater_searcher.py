"""Repeater: each config runs ``repeat`` times; the wrapped searcher hears the mean."""

from __future__ import annotations

import pickle

import pytest

from overtone import tune
from overtone.search import BasicVariantGenerator, Repeater, Searcher


class Recording(Searcher):
    """Suggests ``{"x": 10 * k}`` for k = 0, 1, ... (``limit`` of them); records completions."""

    def __init__(self, limit: int = 100) -> None:
        super().__init__(metric="loss", mode="min")
        self.limit = limit
        self.made = 0
        self.completed: list[tuple[str, dict | None, bool]] = []
        self.results: list[str] = []

    def suggest(self, trial_id):
        if self.made >= self.limit:
            return Searcher.FINISHED
        self.made += 1
        return {"x": 10 * (self.made - 1)}

    def on_trial_result(self, trial_id, result):
        self.results.append(trial_id)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))


def noisy(config):
    # The repeat index stands in for a seed: loss = x + index, so the mean is x + 1.
    tune.report(loss=config["x"] + config["__trial_index__"], other=1)


def test_each_config_runs_repeat_times_and_the_searcher_hears_the_mean(tmp_path):
    inner = Recording()
    analysis = tune.run(
        noisy,
        config={"const": 5},
        search_alg=Repeater(inner, repeat=3),
        num_samples=6,
        metric="loss",
        mode="min",
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
    )
    configs = sorted((t.config["x"], t.config["__trial_index__"]) for t in analysis.trials)
    assert configs == [(0, 0), (0, 1), (0, 2), (10, 0), (10, 1), (10, 2)]
    assert all(t.config["const"] == 5 for t in analysis.trials)
    assert inner.made == 2
    means = sorted((r["loss"], r["other"], error) for _, r, error in inner.completed)
    assert means == [(1.0, 1, False), (11.0, 1, False)]
    # Only the group's first trial is seen by the wrapped searcher, results included.
    assert {tid for tid, _, _ in inner.completed} == set(inner.results)


def test_errors_and_missing_metrics_leave_the_mean_of_the_rest():
    inner = Recording()
    repeater = Repeater(inner, repeat=3, set_index=False)
    repeater.set_search_properties("loss", "min", {})
    assert [repeater.suggest(t) for t in "abc"] == [{"x": 0}] * 3
    repeater.on_trial_complete("b", {"loss": 4.0})
    repeater.on_trial_complete("a", None, error=True)
    assert inner.completed == []
    repeater.on_trial_complete("c", {"loss": 2.0, "note": "last"})
    assert inner.completed == [("a", {"loss": 3.0}, False)]
    # A group where no repeat reported the metric reaches the searcher as an error.
    assert [repeater.suggest(t) for t in "def"] == [{"x": 10}] * 3
    for t in "def":
        repeater.on_trial_complete(t, {"other": 1.0})
    assert inner.completed[-1] == ("d", {"other": 1.0}, True)


def test_finished_and_waiting_pass_through_and_the_state_round_trips():
    inner = Recording(limit=1)
    repeater = Repeater(inner, repeat=2)
    repeater.set_search_properties("loss", "min", {})
    assert repeater.suggest("a") == {"x": 0, "__trial_index__": 0}
    state = pickle.loads(pickle.dumps(repeater.get_state()))
    assert repeater.suggest("b") == {"x": 0, "__trial_index__": 1}
    assert repeater.suggest("c") == Searcher.FINISHED

    restored = Repeater(Recording(limit=1), repeat=2)
    restored.set_state(state)
    assert restored.suggest("b") == {"x": 0, "__trial_index__": 1}
    restored.on_trial_complete("a", {"loss": 1.0})
    restored.on_trial_complete("b", {"loss": 3.0})
    assert restored.searcher.completed == [("a", {"loss": 2.0}, False)]


def score(config):
    tune.report(score=config["a"] * 10 + config["__trial_index__"])


def test_wrapping_the_variant_generator_keeps_its_grid_and_tags(tmp_path):
    analysis = tune.run(
        score,
        config={"a": tune.grid_search([1, 2])},
        search_alg=Repeater(BasicVariantGenerator(), repeat=2),
        metric="score",
        mode="max",
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
    )
    configs = sorted((t.config["a"], t.config["__trial_index__"]) for t in analysis.trials)
    assert configs == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert all("trial_index=" in t.path for t in analysis.trials)  # in the tag


def test_bad_arguments_and_a_cut_short_last_group():
    with pytest.raises(ValueError, match="repeat is 0, but must be an integer >= 1"):
        Repeater(Recording(), repeat=0)
    with pytest.raises(ValueError, match="searcher is 'optuna', but must be a Searcher"):
        Repeater("optuna", repeat=2)
    with pytest.warns(UserWarning, match="num_samples is 5, which is not a multiple of repeat"):
        Repeater(Recording(), repeat=2).set_search_properties("loss", "min", {}, num_samples=5)


def test_with_an_adapter(tmp_path):
    pytest.importorskip("optuna")
    from overtone.search.optuna import OptunaSearch

    inner = OptunaSearch(seed=0)
    analysis = tune.run(
        noisy,
        config={"x": tune.uniform(0, 1)},
        search_alg=Repeater(inner, repeat=2),
        num_samples=6,
        metric="loss",
        mode="min",
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
    )
    by_x: dict[float, list[float]] = {}
    for t in analysis.trials:
        by_x.setdefault(t.config["x"], []).append(t.last_result["loss"])
    assert sorted(len(v) for v in by_x.values()) == [2, 2, 2]
    told = sorted(t.value for t in inner._study.trials)
    assert told == pytest.approx(sorted(sum(v) / 2 for v in by_x.values()))
