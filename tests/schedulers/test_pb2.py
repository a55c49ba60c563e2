"""PB2: a GP bandit explore within bounds, its errors, and the missing extra."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from sched_sim import Simulator

from overtone.schedulers import PB2, FIFOScheduler

pytest.importorskip("sklearn")


def _step(config, state, iteration):
    state = state + 1.0 - 4.0 * (config["x"] - 0.8) ** 2 + 0.01 * config["n"]
    return state, {"score": state}


def _configs():
    rng = np.random.default_rng(3)
    return [{"x": float(rng.uniform(0, 0.5)), "n": int(rng.integers(1, 10))} for _ in range(8)]


def _sim(scheduler, root):
    return Simulator(
        scheduler,
        configs=_configs(),
        step_fn=_step,
        root=str(root),
        max_iter=40,
        concurrency=4,
        checkpoint_every=4,
    )


def test_pb2_moves_the_population_towards_the_better_region(tmp_path):
    pb2 = PB2(
        time_attr="training_iteration",
        perturbation_interval=4,
        hyperparam_bounds={"x": [0.0, 1.0], "n": [1, 9]},
    )
    sim = _sim(pb2, tmp_path / "pb2").run()
    fixed = _sim(FIFOScheduler(), tmp_path / "fifo").run()
    restarts = [d for d in sim.decisions if d[2] == "RESTART"]
    assert len(restarts) >= 5
    chosen = [json.loads(d[3]) for d in restarts]
    assert all(
        0.0 <= c["x"] <= 1.0 and isinstance(c["n"], int) and 1 <= c["n"] <= 9 for c in chosen
    )
    late = [abs(c["x"] - 0.8) for c in chosen[len(chosen) // 2 :]]
    assert np.median(late) < 0.1  # the initial population is in [0, 0.5]
    best = max(t.last_result["score"] for t in sim.trials.values())
    assert best > max(t.last_result["score"] for t in fixed.trials.values())


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"lr": [1, 0]}, r"hyperparam_bounds\['lr'\] is \[1, 0\]"),
        ({"lr": 5}, r"hyperparam_bounds\['lr'\] is 5"),
        ({"opt": {"m": [0]}}, r"hyperparam_bounds\['opt/m'\] is \[0\]"),
        ({}, "needs at least one"),
        (None, "needs at least one"),
    ],
)
def test_bad_bounds_are_value_errors(bounds, message):
    with pytest.raises(ValueError, match=message):
        PB2(hyperparam_bounds=bounds)


def test_a_config_without_a_bounded_key_is_a_clear_error(tmp_path):
    pb2 = PB2(
        time_attr="training_iteration", perturbation_interval=2, hyperparam_bounds={"lr": [0, 1]}
    )
    sim = Simulator(
        pb2, configs=[{"x": 0.1, "n": 1}], step_fn=_step, root=str(tmp_path), max_iter=4
    )
    with pytest.raises(ValueError, match=r"PB2 searches 'lr' in \[0, 1\].*tune.uniform\(0, 1\)"):
        sim.run()


def test_without_scikit_learn_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'overtone\[pb2\]'"):
        PB2(hyperparam_bounds={"lr": [0, 1]})
