"""ResourceChangingScheduler: allocation functions, wrapping, and a restart in the real loop."""

from __future__ import annotations

import json
import os

import pytest

from overtone import tune
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.schedulers import (
    ASHAScheduler,
    Decision,
    DistributeResources,
    DistributeResourcesToTopJob,
    ResourceChangingScheduler,
    TrialRestart,
)


def _trial(i, cpu=1.0, gpu=0.0, result=None) -> FrozenTrial:
    return FrozenTrial(
        f"t{i}", f"t{i}", {}, TrialStatus.RUNNING, result or {}, "", Resources(cpu=cpu, gpu=gpu)
    )


def _allocate(fn, live, total, metric=None, mode=None):
    rcs = ResourceChangingScheduler(
        ASHAScheduler(metric=metric, mode=mode), fn, total_resources=total
    )
    for t in live:
        rcs.on_trial_add(t)
    return rcs.on_trial_result(live[0], {"training_iteration": 1, "acc": 1.0})


@pytest.mark.parametrize(
    ("kwargs", "n_live", "total", "expected"),
    [
        ({}, 2, {"cpu": 4}, 2.0),
        ({}, 1, {"cpu": 4}, 4.0),
        ({}, 3, {"cpu": 4}, 1.0),  # floor(4 / 3) = 1: no change
        ({"increase_by_times": 1}, 1, {"cpu": 8}, 2.0),
        ({"reserve_resources": {"CPU": 1}}, 2, {"cpu": 4}, 1.0),
        ({"increase_by": {"cpu": 2}}, 1, {"cpu": 4}, 3.0),
    ],
)
def test_distribute_resources_spreads_evenly(kwargs, n_live, total, expected):
    live = [_trial(i) for i in range(n_live)]
    decision = _allocate(DistributeResources(**kwargs), live, total, "acc", "max")
    if expected == 1.0:
        assert decision == Decision.CONTINUE
    else:
        assert decision == TrialRestart(resources=Resources(cpu=expected))


def test_gpu_trials_grow_by_gpus():
    live = [_trial(0, cpu=1, gpu=1), _trial(1, cpu=1, gpu=1)]
    decision = _allocate(DistributeResources(), live, {"cpu": 4, "gpu": 4}, "acc", "max")
    assert decision == TrialRestart(resources=Resources(cpu=1, gpu=2))


def test_the_top_job_gets_what_is_free():
    live = [_trial(0, result={"acc": 0.9}), _trial(1, result={"acc": 0.5})]
    assert _allocate(DistributeResourcesToTopJob(), live, {"cpu": 4}, "acc", "max") == (
        TrialRestart(resources=Resources(cpu=3))
    )
    assert _allocate(DistributeResourcesToTopJob(), live[::-1], {"cpu": 4}, "acc", "max") == (
        Decision.CONTINUE
    )


def test_the_base_schedulers_decisions_and_metric_pass_through():
    base = ASHAScheduler(max_t=2)
    rcs = ResourceChangingScheduler(base, total_resources={"cpu": 4})
    rcs.set_search_properties("acc", "max", seed=0)
    assert (rcs.metric, rcs.mode) == ("acc", "max")
    trial = _trial(0)
    rcs.on_trial_add(trial)
    assert rcs.on_trial_result(trial, {"training_iteration": 2, "acc": 1.0}) == Decision.STOP


def test_a_custom_function_and_unknown_totals():
    calls = []

    def fn(view, trial, result, scheduler):
        calls.append((len(view.get_live_trials()), view.total_resources))
        return {"cpu": 3}

    rcs = ResourceChangingScheduler(resources_allocation_function=fn)
    rcs.on_trial_add(_trial(0))
    assert rcs.on_trial_result(_trial(0), {}) == TrialRestart(resources=Resources(cpu=3))
    assert calls == [(1, None)]
    default = ResourceChangingScheduler()
    default.on_trial_add(_trial(0))
    with pytest.warns(UserWarning, match="total_resources"):
        assert default.on_trial_result(_trial(0), {}) == Decision.CONTINUE
    default.set_search_properties(None, None, total_resources={"cpu": 2})
    assert default.on_trial_result(_trial(0), {}) == TrialRestart(resources=Resources(cpu=2))


def test_bad_arguments():
    with pytest.raises(ValueError, match="base_scheduler is 3"):
        ResourceChangingScheduler(3)
    with pytest.raises(ValueError, match="resources_allocation_function is 3"):
        ResourceChangingScheduler(None, 3)
    with pytest.raises(ValueError, match=r"increase_by\['tpu'\]"):
        DistributeResources(increase_by={"tpu": 1})


class Worker(tune.Trainable):
    def setup(self, config):
        self.n = 0

    def step(self):
        self.n += 1
        cpus = tune.get_context().get_trial_resources()["cpu"]
        return {"n": self.n, "cpus": cpus, "done": self.n >= self.config["steps"]}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n"), "w") as f:
            f.write(str(self.n))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n")) as f:
            self.n = int(f.read())


def test_a_lone_trial_grows_through_the_controller(tmp_path):
    grid = tune.Tuner(
        Worker,
        param_space={"steps": 4},
        tune_config=tune.TuneConfig(
            scheduler=ResourceChangingScheduler(total_resources={"cpu": 2})
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        ),
    ).fit()
    assert grid.num_errors == 0 and grid.num_terminated == 1
    rows = [json.loads(x) for x in open(os.path.join(grid[0].path, "result.json"))]
    assert [r["n"] for r in rows] == [1, 2, 3, 4]  # restored across the restart
    # Alone, it gets both CPUs from its first result on.
    assert [r["cpus"] for r in rows] == [1, 2, 2, 2]
