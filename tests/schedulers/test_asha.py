"""ASHA: early stopping on learning curves, rungs and cutoffs, arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sched_sim import Simulator

from overtone import tune
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.schedulers import ASHAScheduler, AsyncHyperBandScheduler, FIFOScheduler


def _curve(config, state, iteration):
    """A power-law learning curve: the final loss plus a decaying gap; curves cross."""
    loss = config["final"] + config["gap"] * iteration ** (-config["rate"])
    return state, {"loss": loss}


def _family(n: int = 81, seed: int = 2) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "final": float(rng.uniform(0.05, 1.0)),
            "gap": float(rng.uniform(0.2, 0.8)),
            "rate": float(rng.uniform(0.3, 1.0)),
        }
        for _ in range(n)
    ]


def _run(scheduler, configs, tmp_path, concurrency=8):
    return Simulator(
        scheduler,
        configs=configs,
        step_fn=_curve,
        root=str(tmp_path),
        max_iter=81,
        concurrency=concurrency,
        metric="loss",
        mode="min",
    ).run()


@pytest.mark.parametrize("seed", [1, 4])
def test_asha_spends_a_third_of_fifo_and_keeps_a_top_five_percent_config(seed, tmp_path):
    configs = _family(seed=seed)
    fifo = _run(FIFOScheduler(), configs, tmp_path / "fifo")
    asha = _run(ASHAScheduler(max_t=81, grace_period=1, reduction_factor=3), configs, tmp_path)
    assert fifo.iterations == 81 * 81
    assert asha.iterations <= fifo.iterations / 3
    finals = sorted(c["final"] for c in configs)
    top5 = finals[math.ceil(0.05 * len(finals)) - 1]  # the 5th percentile's loss
    completed = [t for t in asha.trials.values() if t.iteration == 81]
    best = min(completed, key=lambda t: t.last_result["loss"])
    assert best.config["final"] <= top5
    # Stopped trials ended TERMINATED at a rung, with fewer iterations.
    stopped = [t for t in asha.trials.values() if t.iteration < 81]
    assert stopped and all(t.status == TrialStatus.TERMINATED for t in stopped)
    assert {t.iteration for t in stopped} <= {1, 3, 9, 27}


def _trial(i: int) -> FrozenTrial:
    return FrozenTrial(f"t{i}", f"t{i}", {}, TrialStatus.RUNNING, {}, "/tmp/x", Resources())


def test_a_rung_keeps_the_top_fraction_of_those_before():
    asha = ASHAScheduler(metric="acc", mode="max", max_t=100, grace_period=1, reduction_factor=2)
    decisions = []
    for i, acc in enumerate([0.5, 0.9, 0.6, 0.95, 0.1]):
        trial = _trial(i)
        asha.on_trial_add(trial)
        decisions.append(asha.on_trial_result(trial, {"training_iteration": 1, "acc": acc}))
    # The first goes on (no cutoff yet); then each must reach the median of those before:
    # 0.6 < median(0.5, 0.9) = 0.7 and 0.1 < median(0.5, 0.6, 0.9, 0.95) = 0.75.
    assert decisions == ["CONTINUE", "CONTINUE", "STOP", "CONTINUE", "STOP"]
    # Between rungs nothing is decided; max_t stops everyone.
    assert asha.on_trial_result(_trial(1), {"training_iteration": 1.5, "acc": 0.0}) == "CONTINUE"
    assert asha.on_trial_result(_trial(1), {"training_iteration": 100, "acc": 1}) == "STOP"


def test_stop_last_trials_false_lets_trials_run_past_max_t():
    asha = ASHAScheduler(metric="acc", mode="max", max_t=4, stop_last_trials=False)
    trial = _trial(0)
    asha.on_trial_add(trial)
    assert asha.on_trial_result(trial, {"training_iteration": 10, "acc": 1.0}) == "CONTINUE"


def test_brackets_offset_the_rungs_and_the_choice_is_seeded():
    asha = AsyncHyperBandScheduler(
        metric="acc", mode="max", max_t=81, grace_period=1, reduction_factor=3, brackets=3
    )
    milestones = [[r.milestone for r in reversed(b.rungs)] for b in asha._brackets]
    assert milestones == [[1, 3, 9, 27, 81], [3, 9, 27, 81], [9, 27, 81]]

    def assignment(seed):
        a = AsyncHyperBandScheduler(metric="acc", mode="max", brackets=3, seed=seed)
        for i in range(40):
            a.on_trial_add(_trial(i))
        return [a._brackets.index(a._trial_bracket[f"t{i}"]) for i in range(40)]

    assert assignment(1) == assignment(1)
    assert assignment(1) != assignment(2)
    assert set(assignment(1)) == {0, 1, 2}


def test_nan_scores_are_the_worst():
    asha = ASHAScheduler(metric="loss", mode="min", max_t=10, reduction_factor=2)
    a, b = _trial(0), _trial(1)
    asha.on_trial_add(a)
    asha.on_trial_add(b)
    assert asha.on_trial_result(a, {"training_iteration": 1, "loss": 1.0}) == "CONTINUE"
    assert asha.on_trial_result(b, {"training_iteration": 1, "loss": float("nan")}) == "STOP"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction_factor": 1}, "reduction_factor is 1, but must be > 1"),
        ({"grace_period": 100, "max_t": 81}, r"grace_period is 100, but must be <= max_t \(81\)"),
        ({"grace_period": 0}, "grace_period is 0, but must be > 0"),
        ({"max_t": -1}, "max_t is -1, but must be > 0"),
        ({"brackets": 0}, "brackets is 0, but must be an integer >= 1"),
        ({"mode": "maximize"}, "mode is 'maximize', but must be 'min' or 'max'"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ASHAScheduler(**kwargs)


def asha_train(config):
    for it in range(1, 10):
        tune.report({"loss": config["q"] + 1.0 / it})


def test_asha_stops_trials_early_through_the_controller(tmp_path):
    grid = tune.Tuner(
        asha_train,
        param_space={"q": tune.grid_search([0, 1, 2, 3, 4, 5])},
        tune_config=tune.TuneConfig(
            scheduler=ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3),
            metric="loss",
            mode="min",
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        ),
    ).fit()
    assert grid.num_errors == 0 and grid.num_terminated == 6
    iterations = {r.config["q"]: r.metrics["training_iteration"] for r in grid}
    assert iterations[0] == 9
    # Later trials are worse than both first ones at the first rung: stopped there.
    assert all(iterations[q] == 1 for q in (2, 3, 4, 5))
