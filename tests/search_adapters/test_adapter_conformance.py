"""What every library adapter (Optuna, HyperOpt, BayesOpt, Nevergrad) must do, in real runs."""

from __future__ import annotations

import numpy as np
import pytest

from overtone import tune
from overtone.callbacks import Callback

ADAPTERS = ["optuna", "hyperopt", "bayesopt", "nevergrad"]


def make(name, **kwargs):
    """The adapter ``name`` (skipped where its library is missing), with small budgets."""
    if name == "optuna":
        pytest.importorskip("optuna")
        from overtone.search.optuna import OptunaSearch

        return OptunaSearch(**kwargs)
    if name == "hyperopt":
        pytest.importorskip("hyperopt")
        from overtone.search.hyperopt import HyperOptSearch

        if "seed" in kwargs:
            kwargs["random_state_seed"] = kwargs.pop("seed")
        return HyperOptSearch(n_initial_points=3, **kwargs)
    if name == "bayesopt":
        pytest.importorskip("bayes_opt")
        from overtone.search.bayesopt import BayesOptSearch

        if "seed" in kwargs:
            kwargs["random_state"] = kwargs.pop("seed")
        return BayesOptSearch(random_search_steps=2, **kwargs)
    pytest.importorskip("nevergrad")
    from overtone.search.nevergrad import NevergradSearch

    return NevergradSearch(optimizer="OnePlusOne", optimizer_kwargs={"num_workers": 2}, **kwargs)


def told(searcher) -> list[float]:
    """The metric values the library has recorded, sorted (in the metric's own sign)."""
    sign = 1.0 if searcher.mode == "min" else -1.0
    name = type(searcher).__name__
    if name.endswith("OptunaSearch"):
        return sorted(t.value for t in searcher._study.trials if t.state.name == "COMPLETE")
    if name.endswith("HyperOptSearch"):
        done = [d for d in searcher._trials.trials if d["state"] == 2]  # JOB_STATE_DONE
        return sorted(sign * d["result"]["loss"] for d in done)
    if name.endswith("BayesOptSearch"):
        return sorted(-sign * float(t) for t in searcher._optimizer.space.target)
    values = []
    for value in searcher._optimizer.archive.values():
        values += [sign * value.mean] * value.count
    return sorted(values)


def space(name):
    """A nested space with a list, constants and a sample_from (no categories for BayesOpt)."""
    config = {
        "model": {"x": tune.uniform(-2.0, 2.0), "width": 64},
        "layers": [tune.randint(1, 4), 7],
        "lr": tune.loguniform(1e-4, 1e-1),
        "double_x": tune.sample_from(lambda spec: spec.config.model.x * 2),
        "const": "c",
    }
    if name != "bayesopt":
        config["act"] = tune.choice(["relu", [1, 2]])
    return config


def quadratic(config):
    tune.report(loss=(config["model"]["x"] - 0.5) ** 2 + config["layers"][0] / 10)


def run(searcher, tmp_path, name="exp", num_samples=6, sequential=False, **kwargs):
    return tune.run(
        quadratic,
        name=name,
        config=kwargs.pop("config", space(kwargs.pop("kind", "optuna"))),
        search_alg=searcher,
        num_samples=num_samples,
        metric="loss",
        mode="min",
        max_concurrent_trials=1 if sequential else None,
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        **kwargs,
    )


def configs(analysis) -> list[dict]:
    return [t.config for t in analysis.trials]


def key(config) -> tuple:
    return (round(config["model"]["x"], 9), config["layers"][0], round(config["lr"], 12))


@pytest.mark.parametrize("name", ADAPTERS)
def test_searches_a_nested_space_and_hears_every_result(name, tmp_path):
    searcher = make(name, seed=0)
    analysis = run(searcher, tmp_path, config=space(name))
    assert len(analysis.trials) == 6
    for config in configs(analysis):
        assert -2.0 <= config["model"]["x"] <= 2.0 and config["model"]["width"] == 64
        assert config["layers"][1] == 7 and config["layers"][0] in (1, 2, 3)
        assert isinstance(config["layers"][0], int)
        assert 1e-4 <= config["lr"] <= 1e-1
        assert config["double_x"] == config["model"]["x"] * 2
        assert config["const"] == "c"
        if name != "bayesopt":
            assert config["act"] in ("relu", [1, 2])
    losses = sorted(t.last_result["loss"] for t in analysis.trials)
    assert told(searcher) == pytest.approx(losses)


@pytest.mark.parametrize("name", ADAPTERS)
def test_points_to_evaluate_come_first(name):
    point = {"model": {"x": 1.5}, "layers": [2], "lr": 0.01}
    if name != "bayesopt":
        point["act"] = [1, 2]
    searcher = make(name, seed=0, points_to_evaluate=[point])
    searcher.set_search_properties("loss", "min", space(name))
    first = searcher.suggest("t0")
    assert first["model"]["x"] == pytest.approx(1.5)
    # A list is suggested whole (the controller replaces lists), its constants kept.
    assert first["layers"] == [2, 7] and first["lr"] == pytest.approx(0.01)
    if name != "bayesopt":
        assert first["act"] == [1, 2]
    assert key(searcher.suggest("t1")) != key(first)


@pytest.mark.parametrize("name", ADAPTERS)
def test_evaluated_rewards_warm_start_without_running_the_points(name):
    points = [
        {"model": {"x": 0.25}, "layers": [1], "lr": 0.001},
        {"model": {"x": -1.75}, "layers": [3], "lr": 0.05},
    ]
    if name != "bayesopt":
        for p in points:
            p["act"] = "relu"
    searcher = make(name, seed=0, points_to_evaluate=points, evaluated_rewards=[0.5, 9.0])
    searcher.set_search_properties("loss", "min", space(name))
    suggestion = searcher.suggest("t0")
    assert suggestion["model"]["x"] not in (0.25, -1.75)
    assert told(searcher) == [0.5, 9.0]
    searcher.on_trial_complete("t0", {"loss": 1.0})
    assert told(searcher) == [0.5, 1.0, 9.0]


@pytest.mark.parametrize("name", ADAPTERS)
def test_the_experiment_seed_makes_runs_repeatable(name, tmp_path):
    def once(exp):
        analysis = run(
            make(name),
            tmp_path,
            name=exp,
            num_samples=4,
            sequential=True,
            config=space(name),
            seed=3,
        )
        return [key(c) for c in configs(analysis)]

    def suggestions(seed):
        searcher = make(name)
        searcher.set_search_properties("loss", "min", space(name), seed=seed)
        return [key(searcher.suggest(str(i))) for i in range(2)]

    first = once("a")
    assert once("b") == first
    assert suggestions(3)[0] == first[0]  # the experiment's seed reached the searcher
    assert suggestions(3) != suggestions(4)


class SaveAfter(Callback):
    """Saves the searcher's state once ``n`` trials have completed."""

    def __init__(self, searcher, n, path):
        self.searcher, self.n, self.path, self.done = searcher, n, path, 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        if self.done == self.n:
            self.searcher.save(self.path)


@pytest.mark.parametrize("name", ADAPTERS)
def test_state_saved_mid_experiment_continues_without_repeating(name, tmp_path):
    path = str(tmp_path / "searcher.pkl")
    original = make(name, seed=5)
    analysis = run(
        original,
        tmp_path,
        name="a",
        sequential=True,
        config=space(name),
        callbacks=[SaveAfter(original, 3, path)],
    )
    seen = [key(c) for c in configs(analysis)]
    assert len(set(seen)) == 6

    restored = make(name)
    restored.restore(path)
    analysis = run(
        restored, tmp_path, name="b", num_samples=3, sequential=True, config=space(name)
    )
    after = [key(c) for c in configs(analysis)]
    # The restored searcher goes on where the original was when it was saved ...
    assert after == seen[3:]
    # ... whereas a fresh one with the same seed starts over with the first config.
    fresh = make(name, seed=5)
    fresh.set_search_properties("loss", "min", space(name), num_samples=6)
    assert key(fresh.suggest("t")) == seen[0]


def counting(config):
    for i in range(1, 11):
        tune.report(loss=config["model"]["x"] + i)


class Spy:
    """Records what the adapter is told at the end of each trial."""

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.ends = getattr(self, "ends", [])
        self.ends.append((result["training_iteration"] if result else None, error))
        super().on_trial_complete(trial_id, result=result, error=error)


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_trial_stopped_by_a_stop_criterion_reaches_the_searcher_as_a_result(name, tmp_path):
    searcher = make(name, seed=0)
    searcher.__class__ = type(f"Spy{type(searcher).__name__}", (Spy, type(searcher)), {})
    analysis = tune.run(
        counting,
        config={"model": {"x": tune.uniform(0.0, 1.0)}},
        search_alg=searcher,
        num_samples=3,
        metric="loss",
        mode="min",
        stop={"training_iteration": 3},
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
    )
    assert searcher.ends == [(3, False)] * 3
    for trial in analysis.trials:
        assert trial.last_result["loss"] == pytest.approx(trial.config["model"]["x"] + 3)
    assert told(searcher) == pytest.approx(sorted(t.last_result["loss"] for t in analysis.trials))


def rising(config):
    """Worse with every step, so that ASHA stops the trials that start worst."""
    for i in range(1, 10):
        tune.report(loss=config["model"]["x"] * 10 + i)


@pytest.mark.parametrize("name", ADAPTERS)
def test_trials_asha_stops_early_reach_the_searcher_as_results(name, tmp_path):
    searcher = make(name, seed=1)
    searcher.__class__ = type(f"Spy{type(searcher).__name__}", (Spy, type(searcher)), {})
    asha = tune.schedulers.ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3)
    analysis = tune.run(
        rising,
        config={"model": {"x": tune.uniform(0.0, 1.0)}},
        search_alg=searcher,
        scheduler=asha,
        num_samples=9,
        metric="loss",
        mode="min",
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=1, num_gpus=0),  # one at a time: rungs fill
    )
    iterations = sorted(t.last_result["training_iteration"] for t in analysis.trials)
    assert iterations[0] < 9 and iterations[-1] == 9, iterations  # some were stopped early
    assert all(str(t.status) == "TERMINATED" for t in analysis.trials)
    # Each trial, stopped early or not, reaches the searcher once, as its last result.
    assert sorted(searcher.ends) == sorted((i, False) for i in iterations)
    assert told(searcher) == pytest.approx(sorted(t.last_result["loss"] for t in analysis.trials))


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_failed_trial_is_not_told_as_a_result(name, tmp_path):
    searcher = make(name, seed=0)
    searcher.set_search_properties("loss", "min", {"model": {"x": tune.uniform(0.0, 1.0)}})
    searcher.suggest("ok")
    searcher.suggest("bad")
    searcher.on_trial_complete("ok", {"loss": 0.5, "training_iteration": 1})
    searcher.on_trial_complete("bad", {"loss": 0.1, "training_iteration": 1}, error=True)
    searcher.on_trial_complete("unknown", {"loss": 0.0})  # never suggested: ignored
    assert told(searcher) == [0.5]


@pytest.mark.parametrize("name", ADAPTERS)
def test_mode_max_prefers_larger_values(name, tmp_path):
    searcher = make(name, seed=0, metric="score", mode="max")
    searcher.set_search_properties(None, None, {"x": tune.uniform(0.0, 1.0)})
    for i in range(3):
        searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"score": float(i)})
    assert told(searcher) == [0.0, 1.0, 2.0]
    assert np.isfinite(told(searcher)).all()
