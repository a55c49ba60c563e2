"""A failing trial ends only itself: exceptions, os._exit and signals."""

from __future__ import annotations

import os
import signal

import pytest

from overtone import tune


def sometimes_fails(config):
    tune.report(loss=1.0)
    mode = config["mode"]
    if mode == "raise":
        raise ValueError("bad hyperparameter 42")
    if mode == "exit":
        os._exit(3)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    tune.report(loss=0.5)


def test_failures_end_only_their_trial(tmp_path, executor):
    analysis = tune.run(
        sometimes_fails,
        config={"mode": tune.grid_search(["ok", "raise", "exit", "kill", "ok"])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        raise_on_failed_trial=False,
    )
    by_mode: dict[str, list] = {}
    for t in analysis.trials:
        by_mode.setdefault(t.config["mode"], []).append(t)
    assert [str(t.status) for t in by_mode["ok"]] == ["TERMINATED", "TERMINATED"]
    assert all(t.last_result["loss"] == 0.5 for t in by_mode["ok"])
    for mode, text in [
        ("raise", "bad hyperparameter 42"),
        ("exit", "exited with code 3"),
        ("kill", "SIGKILL"),
    ]:
        (trial,) = by_mode[mode]
        assert str(trial.status) == "ERROR"
        error = open(os.path.join(trial.path, "error.txt")).read()
        assert text in error
        # The result reported before the failure is kept.
        assert trial.last_result["loss"] == 1.0


def test_tune_run_raises_naming_the_failed_trials(tmp_path, executor):
    with pytest.raises(tune.TuneError, match="did not complete") as info:
        tune.run(
            sometimes_fails,
            config={"mode": tune.grid_search(["ok", "raise"])},
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
        )
    assert len(info.value.trial_names) == 1
    assert "sometimes_fails" in info.value.trial_names[0]


def test_tuner_collects_errors_without_raising(tmp_path, executor):
    grid = tune.Tuner(
        sometimes_fails,
        param_space={"mode": tune.grid_search(["ok", "raise", "ok"])},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    ).fit()
    assert grid.num_errors == 1 and grid.num_terminated == 2
    (error,) = grid.errors
    assert "bad hyperparameter 42" in str(error)


_COUNT_FILE = "attempts.txt"


def flaky(config):
    path = os.path.join(config["dir"], _COUNT_FILE)
    with open(path, "a") as f:
        f.write("x")
    attempts = len(open(path).read())
    tune.report(attempt=attempts)
    if attempts < 3:
        raise RuntimeError(f"flaky failure {attempts}")


def test_max_failures_retries_the_trial(tmp_path, executor):
    analysis = tune.run(
        flaky,
        config={"dir": str(tmp_path)},
        max_failures=2,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    (trial,) = analysis.trials
    assert str(trial.status) == "TERMINATED"
    assert trial.num_failures == 2
    assert trial.last_result["attempt"] == 3


def test_retries_are_bounded(tmp_path, executor):
    analysis = tune.run(
        flaky,
        config={"dir": str(tmp_path)},
        max_failures=1,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        raise_on_failed_trial=False,
    )
    (trial,) = analysis.trials
    assert str(trial.status) == "ERROR" and trial.num_failures == 2


def test_fail_fast_stops_the_experiment(tmp_path, executor):
    analysis = tune.run(
        sometimes_fails,
        config={"mode": tune.grid_search(["raise"] + ["ok"] * 20)},
        fail_fast=True,
        max_concurrent_trials=1,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        raise_on_failed_trial=False,
    )
    assert len(analysis.trials) < 21


class Locked:
    def __init__(self):
        import threading

        self.lock = threading.Lock()


def test_unpicklable_trainable_fails_at_run_time(tmp_path, executor):
    holder = Locked()

    def uses_lock(config):
        with holder.lock:
            tune.report(x=1)

    with pytest.raises(TypeError, match="cannot be pickled"):
        tune.run(uses_lock, storage_path=str(tmp_path), verbose=0, executor=executor)
    assert list(tmp_path.iterdir()) == []  # nothing was started


def test_unregistered_string_trainable_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="'my_trainable'.*register_trainable"):
        tune.run("my_trainable", storage_path=str(tmp_path))


def test_trial_asking_for_more_than_exists(tmp_path, executor):
    with pytest.raises(ValueError, match="3 CPUs of 2"):
        tune.run(
            sometimes_fails,
            config={"mode": "ok"},
            resources_per_trial={"cpu": 3},
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
        )
