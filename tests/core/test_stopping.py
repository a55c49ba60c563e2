"""stop= as a dict, a function and Stopper objects; time_budget_s."""

from __future__ import annotations

import time

import pytest

from overtone import tune
from overtone.tune.stopper import (
    CombinedStopper,
    ExperimentPlateauStopper,
    MaximumIterationStopper,
    TrialPlateauStopper,
)


def counts(config):
    for i in range(1, 101):
        tune.report(score=i * config.get("k", 1), flat=1.0)
        time.sleep(config.get("sleep", 0))


def _iterations(analysis):
    return sorted(t.last_result["training_iteration"] for t in analysis.trials)


def run(tmp_path, executor, **kwargs):
    kwargs.setdefault("config", {"k": tune.grid_search([1, 2])})
    return tune.run(counts, storage_path=str(tmp_path), verbose=0, executor=executor, **kwargs)


def test_stop_dict(tmp_path, executor):
    assert _iterations(run(tmp_path, executor, stop={"training_iteration": 7})) == [7, 7]
    # The first criterion reached stops the trial: k=2 reaches score 10 at iteration 5.
    assert _iterations(run(tmp_path, executor, stop={"score": 10})) == [5, 10]


def test_stop_function(tmp_path, executor):
    analysis = run(tmp_path, executor, stop=lambda trial_id, result: result["score"] >= 6)
    assert _iterations(analysis) == [3, 6]


def test_stop_dict_with_an_unknown_key_is_a_clear_error(tmp_path, executor):
    with pytest.raises(ValueError, match="no_such_metric"):
        run(tmp_path, executor, stop={"no_such_metric": 1})


def test_stopper_classes(tmp_path, executor):
    assert _iterations(run(tmp_path, executor, stop=MaximumIterationStopper(4))) == [4, 4]
    plateau = TrialPlateauStopper(metric="flat", num_results=3, grace_period=3)
    assert _iterations(run(tmp_path, executor, stop=plateau)) == [3, 3]
    combined = CombinedStopper(
        MaximumIterationStopper(50), TrialPlateauStopper("flat", num_results=8, grace_period=8)
    )
    assert _iterations(run(tmp_path, executor, stop=combined)) == [8, 8]


def test_experiment_plateau_stops_everything(tmp_path, executor):
    stopper = ExperimentPlateauStopper(metric="flat", top=2, patience=0, mode="max")
    analysis = run(
        tmp_path,
        executor,
        stop=stopper,
        config={"k": tune.grid_search([1] * 6)},
        max_concurrent_trials=2,
    )
    assert len(analysis.trials) < 6


def test_time_budget_ends_the_experiment(tmp_path, executor):
    start = time.time()
    analysis = run(
        tmp_path,
        executor,
        time_budget_s=2.0,
        config={"sleep": 0.05, "k": tune.grid_search([1, 2])},
    )
    assert time.time() - start < 10  # 100 results x 0.05 s would take at least 5 s more
    assert all(str(t.status) == "TERMINATED" for t in analysis.trials)
    assert all(t.last_result.get("training_iteration", 0) < 100 for t in analysis.trials)


def test_done_in_a_result_ends_the_trial(tmp_path, executor):
    def finishes_early(config):
        for i in range(10):
            tune.report(i=i, done=i == 2)

    analysis = tune.run(finishes_early, storage_path=str(tmp_path), verbose=0, executor=executor)
    assert analysis.trials[0].last_result["training_iteration"] == 3
