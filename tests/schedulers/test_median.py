"""The median stopping rule: stops below the median, soft stops, time slices, the real loop."""

from __future__ import annotations

import pytest
from sched_sim import Simulator

from overtone import tune
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.schedulers import Decision, MedianStoppingRule


def _trial(i: int, status=TrialStatus.RUNNING) -> FrozenTrial:
    return FrozenTrial(f"t{i}", f"t{i}", {}, status, {}, "", Resources())


def _rule(**kwargs) -> MedianStoppingRule:
    kwargs = {"time_attr": "training_iteration", "grace_period": 2, **kwargs}
    return MedianStoppingRule(metric="acc", mode="max", **kwargs)


def _feed(rule, i, acc, until, start=1):
    decision = None
    for t in range(start, until + 1):
        decision = rule.on_trial_result(_trial(i), {"training_iteration": t, "acc": acc})
    return decision


def test_a_trial_below_the_median_of_running_averages_stops():
    rule = _rule(min_samples_required=2)
    for i, acc in enumerate([0.9, 0.8]):
        rule.on_trial_add(_trial(i))
        assert _feed(rule, i, acc, 10) == Decision.CONTINUE
    rule.on_trial_add(_trial(2))
    assert _feed(rule, 2, 0.7, 2) == Decision.CONTINUE
    assert _feed(rule, 2, 0.7, 3, start=3) == Decision.STOP  # 0.7 < median(0.9, 0.8)
    rule.on_trial_add(_trial(3))
    assert _feed(rule, 3, 0.5, 2) == Decision.CONTINUE  # within the grace period
    assert _feed(rule, 3, 0.5, 3, start=3) == Decision.STOP  # 0.5 < median(0.9, 0.8, 0.7)
    rule.on_trial_add(_trial(4))
    assert _feed(rule, 4, 0.95, 10) == Decision.CONTINUE


def test_too_few_samples_never_stop():
    rule = _rule(min_samples_required=3)
    rule.on_trial_add(_trial(0))
    rule.on_trial_add(_trial(1))
    _feed(rule, 0, 0.9, 10)
    assert _feed(rule, 1, 0.1, 10) == Decision.CONTINUE


def test_soft_stop_pauses_and_the_paused_trial_runs_last():
    rule = _rule(min_samples_required=1, hard_stop=False)
    for i in range(2):
        rule.on_trial_add(_trial(i))
    _feed(rule, 0, 0.9, 10)
    assert _feed(rule, 1, 0.1, 3) == Decision.PAUSE
    paused, fresh = _trial(1, TrialStatus.PAUSED), _trial(2, TrialStatus.PENDING)
    assert rule.choose_trial_to_run([paused, fresh]).trial_id == "t2"
    assert rule.choose_trial_to_run([paused]).trial_id == "t1"
    assert _feed(rule, 1, 0.1, 4, start=4) == Decision.CONTINUE  # then it runs as in FIFO


def test_min_time_slice_yields_to_waiting_trials():
    rule = _rule(min_samples_required=5, min_time_slice=2)
    rule.on_trial_add(_trial(0))
    assert _feed(rule, 0, 0.5, 5) == Decision.CONTINUE  # nobody waits
    rule.choose_trial_to_run([_trial(1, TrialStatus.PENDING), _trial(2, TrialStatus.PENDING)])
    assert _feed(rule, 0, 0.5, 6, start=6) == Decision.PAUSE
    assert _feed(rule, 0, 0.5, 7, start=7) == Decision.CONTINUE  # less than 2 since


def test_in_the_simulator_bad_trials_stop_early(tmp_path):
    sim = Simulator(
        _rule(min_samples_required=2, grace_period=3),
        configs=[{"q": q} for q in (0.9, 0.8, 0.7, 0.1, 0.2, 0.95)],
        step_fn=lambda c, s, it: (s, {"acc": c["q"]}),
        root=str(tmp_path),
        max_iter=20,
        concurrency=3,
        metric="acc",
        mode="max",
    ).run()
    iterations = {t.config["q"]: t.iteration for t in sim.trials.values()}
    assert iterations[0.9] == iterations[0.95] == 20
    assert iterations[0.1] == iterations[0.2] == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grace_period": -1}, "grace_period is -1, but must be >= 0"),
        ({"min_samples_required": 0}, "min_samples_required is 0"),
        ({"min_time_slice": -1}, "min_time_slice is -1"),
        ({"mode": "maximize"}, "'maximize'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MedianStoppingRule(**kwargs)


def median_train(config):
    for _ in range(10):
        tune.report({"score": config["q"]})


def test_median_stopping_through_the_controller(tmp_path):
    grid = tune.Tuner(
        median_train,
        param_space={"q": tune.grid_search([4, 3, 2, 1])},
        tune_config=tune.TuneConfig(
            scheduler=MedianStoppingRule(
                time_attr="training_iteration", grace_period=2, min_samples_required=1
            ),
            metric="score",
            mode="max",
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        ),
    ).fit()
    assert grid.num_errors == 0 and grid.num_terminated == 4
    iterations = {r.config["q"]: r.metrics["training_iteration"] for r in grid}
    assert iterations[4] == 10
    # The last two start once one of the first is done, and stop at the first chance.
    assert iterations[2] == iterations[1] == 3
