"""One suite for every scheduler: valid decisions, seeded, state that survives a restore."""

from __future__ import annotations

import importlib.util
import json
import pickle

import numpy as np
import pytest
from sched_sim import Simulator

from overtone import tune
from overtone._trial import TrialStatus
from overtone.schedulers import (
    PB2,
    ASHAScheduler,
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    PopulationBasedTrainingReplay,
    ResourceChangingScheduler,
    TrialScheduler,
)

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None

REPLAY_START = {"x": 0.5, "c": 2}
REPLAY_ROWS = [
    ["0", "1", "t00000", "t00001", 4, 3, REPLAY_START, {"x": 0.6, "c": 3}],
    ["3", "0", "t00003", "t00000", 9, 9, {"x": 0.6, "c": 3}, {"x": 0.8, "c": 1}],
]


def _policy(root) -> str:
    path = root / "pbt_policy_t00003.txt"
    path.write_text("".join(json.dumps(r) + "\n" for r in REPLAY_ROWS))
    return str(path)


FACTORIES = {
    "fifo": lambda root: FIFOScheduler(),
    "asha": lambda root: ASHAScheduler(max_t=27, grace_period=1, reduction_factor=3),
    "asha_brackets": lambda root: AsyncHyperBandScheduler(
        max_t=27, grace_period=1, reduction_factor=3, brackets=3
    ),
    "hyperband": lambda root: HyperBandScheduler(max_t=27, reduction_factor=3),
    "bohb": lambda root: HyperBandForBOHB(max_t=27, reduction_factor=3),
    "median": lambda root: MedianStoppingRule(
        time_attr="training_iteration", grace_period=3, min_samples_required=2
    ),
    "median_soft": lambda root: MedianStoppingRule(
        time_attr="training_iteration",
        grace_period=3,
        min_samples_required=3,
        min_time_slice=2,
        hard_stop=False,
    ),
    "pbt": lambda root: PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=3,
        hyperparam_mutations={"x": tune.uniform(0, 1), "c": [1, 2, 3, 4]},
    ),
    "pbt_synch": lambda root: PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=3,
        hyperparam_mutations={"x": tune.uniform(0, 1), "c": [1, 2, 3, 4]},
        synch=True,
    ),
    "pb2": lambda root: PB2(
        time_attr="training_iteration", perturbation_interval=3, hyperparam_bounds={"x": [0, 1]}
    ),
    "resource_changing": lambda root: ResourceChangingScheduler(
        ASHAScheduler(max_t=27, reduction_factor=3), total_resources={"cpu": 8}
    ),
    "replay": lambda root: PopulationBasedTrainingReplay(_policy(root)),
}
NAMES = sorted(n for n in FACTORIES if HAS_SKLEARN or n != "pb2")


def _step(config, state, iteration):
    gain = 1.0 - (config["x"] - 0.7) ** 2 + 0.1 * config["c"] + 0.01 * np.sin(iteration)
    state = state + gain
    return state, {"score": state / iteration}


def _configs(name: str) -> list[dict]:
    if name == "replay":
        return [dict(REPLAY_START)]
    rng = np.random.default_rng(7)
    return [{"x": float(rng.uniform()), "c": int(rng.integers(1, 5))} for _ in range(12)]


def _sim(name: str, root, **kwargs) -> Simulator:
    root.mkdir(parents=True, exist_ok=True)
    return Simulator(
        FACTORIES[name](root),
        configs=_configs(name),
        step_fn=_step,
        root=str(root),
        max_iter=27,
        concurrency=4,
        checkpoint_every=3,
        **kwargs,
    )


@pytest.mark.parametrize("name", NAMES)
def test_decisions_are_valid_and_every_trial_ends(name, tmp_path):
    sim = _sim(name, tmp_path).run()
    assert all(t.status == TrialStatus.TERMINATED for t in sim.trials.values())
    assert len(sim.trials) == len(_configs(name))
    assert sim.decisions
    assert sim.scheduler.metric in ("score", None)
    assert isinstance(sim.scheduler.debug_string(), str)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_decisions(name, tmp_path):
    first = _sim(name, tmp_path / "a").run().decisions
    second = _sim(name, tmp_path / "b").run().decisions
    assert first == second


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trips_through_pickle_and_continues_identically(name, tmp_path):
    whole = _sim(name, tmp_path / "a").run()
    halfway = whole.iterations // 2
    swapped = _sim(name, tmp_path / "b").run(
        swap_at=halfway, factory=lambda: FACTORIES[name](tmp_path / "b")
    )
    assert swapped.decisions == whole.decisions
    pickle.dumps(swapped.scheduler.get_state())


@pytest.mark.parametrize("name", [n for n in ("pbt", "pbt_synch", "asha_brackets") if n in NAMES])
def test_the_seed_is_what_makes_runs_equal(name, tmp_path):
    first = _sim(name, tmp_path / "a", seed=1).run().decisions
    second = _sim(name, tmp_path / "b", seed=2).run().decisions
    assert first != second


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("fifo", "replay")])
def test_metric_and_mode_reach_the_scheduler_from_the_experiment(name, tmp_path):
    scheduler = FACTORIES[name](tmp_path)
    assert scheduler.metric is None and scheduler.mode is None
    scheduler.set_search_properties("score", "min", seed=0, experiment_path=str(tmp_path))
    assert (scheduler.metric, scheduler.mode) == ("score", "min")


MODE_ARGS = {
    "asha": (ASHAScheduler, {}),
    "hyperband": (HyperBandScheduler, {}),
    "bohb": (HyperBandForBOHB, {}),
    "median": (MedianStoppingRule, {}),
    "pbt": (PopulationBasedTraining, {"hyperparam_mutations": {"x": [1, 2]}}),
}
if HAS_SKLEARN:
    MODE_ARGS["pb2"] = (PB2, {"hyperparam_bounds": {"x": [0, 1]}})


@pytest.mark.parametrize("name", sorted(MODE_ARGS))
def test_a_mode_that_is_not_min_or_max_is_a_value_error(name, tmp_path):
    cls, kwargs = MODE_ARGS[name]
    with pytest.raises(ValueError, match="'maximize'"):
        cls(metric="score", mode="maximize", **kwargs)
    scheduler = cls(**kwargs)
    with pytest.raises(ValueError, match="'maximize'"):
        scheduler.set_search_properties("score", "maximize")


@pytest.mark.parametrize("name", sorted(MODE_ARGS))
def test_no_metric_anywhere_is_a_clear_error_at_the_first_trial(name, tmp_path):
    cls, kwargs = MODE_ARGS[name]
    scheduler: TrialScheduler = cls(**kwargs)
    scheduler.set_search_properties(None, None)
    sim_root = tmp_path / "sim"
    sim_root.mkdir()
    with pytest.raises(ValueError, match="metric"):
        Simulator(
            scheduler,
            configs=[{"x": 0.5, "c": 1}],
            step_fn=_step,
            root=str(sim_root),
            metric=None,
            mode=None,
        ).run()
