"""SimulatedExecutor: trials on a simulated clock, through the real controller."""

from __future__ import annotations

import pytest

from overtone import tune
from overtone.executors import CurveTable, SimulatedExecutor
from overtone.tune.schedulers import ASHAScheduler, HyperBandScheduler


def _fit(executor, space, tmp_path, **tune_kwargs):
    return tune.Tuner(
        lambda config: None,  # never run: the executor makes the results
        param_space=space,
        tune_config=tune.TuneConfig(**tune_kwargs),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), executor=executor, verbose=0, default_loggers=False
        ),
    ).fit()


def test_the_clock_runs_trials_slot_by_slot(tmp_path):
    def metrics(config, t):
        return {"score": config["d"] * t, "time_this_iter_s": float(config["d"])}

    sim = SimulatedExecutor(metrics, num_slots=2, max_iterations=3)
    grid = _fit(sim, {"d": tune.grid_search([1, 2, 3, 4])}, tmp_path)
    assert grid.num_errors == 0 and len(grid) == 4
    # Slots: d=1 (0-3) then d=3 (3-12); d=2 (0-6) then d=4 (6-18).
    assert sim.clock.time() == 18.0
    assert sim.iterations == 12 and sim.compute_s == 30.0
    for r in grid:
        d = r.config["d"]
        assert r.metrics["training_iteration"] == 3
        assert r.metrics["time_total_s"] == 3.0 * d
        assert r.metrics["score"] == 3 * d
        assert list(r.metrics_dataframe["score"]) == [d, 2 * d, 3 * d]


def test_a_function_ends_a_trial_with_none_and_fails_it_by_raising(tmp_path):
    def metrics(config, t):
        if config["kind"] == "short" and t > 2:
            return None
        if config["kind"] == "bad" and t == 2:
            raise ArithmeticError("diverged")
        return {"loss": 1.0 / t}

    sim = SimulatedExecutor(metrics, num_slots=3, max_iterations=5, iteration_time=0.5)
    grid = _fit(sim, {"kind": tune.grid_search(["short", "bad", "full"])}, tmp_path)
    by_kind = {r.config["kind"]: r for r in grid}
    assert by_kind["short"].metrics["training_iteration"] == 2 and by_kind["short"].error is None
    assert by_kind["full"].metrics["training_iteration"] == 5
    assert by_kind["full"].metrics["time_total_s"] == 2.5
    assert grid.num_errors == 1
    assert "ArithmeticError: diverged" in str(by_kind["bad"].error)


def test_asha_stops_trials_early_on_simulated_time(tmp_path):
    def metrics(config, t):
        return {"loss": config["q"] + 1.0 / t, "time_this_iter_s": 10.0}

    sim = SimulatedExecutor(metrics, num_slots=4, max_iterations=27)
    grid = _fit(
        sim,
        {"q": tune.uniform(0, 1)},
        tmp_path,
        metric="loss",
        mode="min",
        num_samples=40,
        seed=0,
        scheduler=ASHAScheduler(max_t=27, grace_period=1, reduction_factor=3),
    )
    assert len(grid) == 40
    iterations = [r.metrics["training_iteration"] for r in grid]
    assert max(iterations) == 27 and sum(iterations) < 40 * 27 / 3
    best = grid.get_best_result()
    assert best.config["q"] == min(r.config["q"] for r in grid)  # curves never cross
    assert sim.clock.time() == pytest.approx(10.0 * sum(iterations) / 4, rel=0.5)


def test_hyperband_pauses_and_resumes_from_simulated_checkpoints(tmp_path):
    def metrics(config, t):
        return {"loss": config["q"] + 1.0 / t}

    sim = SimulatedExecutor(metrics, num_slots=3, max_iterations=9, checkpoint_every=1)
    grid = _fit(
        sim,
        {"q": tune.uniform(0, 1)},
        tmp_path,
        metric="loss",
        mode="min",
        num_samples=9,
        seed=1,
        scheduler=HyperBandScheduler(max_t=9, reduction_factor=3),
    )
    assert grid.num_errors == 0
    winner = max(grid, key=lambda r: r.metrics["training_iteration"])
    frame = winner.metrics_dataframe
    assert winner.metrics["training_iteration"] == 9
    # Resumed, not restarted: each iteration was reported once, in order.
    assert list(frame["training_iteration"]) == list(range(1, 10))
    assert sim.iterations == sum(r.metrics["training_iteration"] for r in grid)


def test_curve_table_finds_recorded_and_nearest_configs():
    table = CurveTable(
        [
            ({"lr": 0.1, "opt": "sgd"}, [{"loss": 1.0}]),
            ({"lr": 0.9, "opt": "sgd"}, [{"loss": 2.0}]),
            ({"lr": 0.5, "opt": "adam"}, [{"loss": 3.0}]),
            ({"lr": 0.1, "opt": "sgd"}, [{"loss": 4.0}]),  # recorded twice: taken in turn
        ]
    )
    assert table.curve_for({"lr": 0.1, "opt": "sgd"}) == [{"loss": 1.0}]
    assert table.curve_for({"lr": 0.1, "opt": "sgd"}) == [{"loss": 4.0}]
    assert table.curve_for({"lr": 0.8, "opt": "sgd"}) == [{"loss": 2.0}]
    assert table.curve_for({"lr": 0.45, "opt": "adam"}) == [{"loss": 3.0}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_slots": 0}, "num_slots is 0, but must be an int >= 1"),
        ({"max_iterations": None}, "a metrics function needs it"),
        ({"iteration_time": -1}, "iteration_time is -1, but must be a number >= 0"),
    ],
)
def test_arguments_are_checked(kwargs, message):
    args = {"max_iterations": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        SimulatedExecutor(lambda config, t: {"x": t}, **args)
    with pytest.raises(ValueError, match="the table of curves is empty"):
        SimulatedExecutor([])


def test_the_time_budget_runs_on_the_simulated_clock(tmp_path):
    sim = SimulatedExecutor(
        lambda config, t: {"loss": 1.0 / t}, num_slots=1, max_iterations=100, iteration_time=10
    )
    grid = _fit(sim, {"x": tune.grid_search([1, 2])}, tmp_path, time_budget_s=55)
    # 100 iterations of 10 simulated seconds would take 1000 s: the budget ends it at 55.
    assert 55 <= sim.clock.time() <= 60
    assert sum(r.metrics["training_iteration"] for r in grid if r.metrics) == 6
