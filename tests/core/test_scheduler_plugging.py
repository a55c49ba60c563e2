"""What the controller offers schedulers: stop, pause and resume, restart changed."""

from __future__ import annotations

import json
import os

import pytest

from overtone import tune
from overtone.schedulers import Decision, TrialRestart, TrialScheduler


class Counter(tune.Trainable):
    def setup(self, config):
        self.n = 0

    def step(self):
        self.n += 1
        return {"n": self.n, "lr": self.config["lr"], "done": self.n >= 8}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n"), "w") as f:
            f.write(str(self.n))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n")) as f:
            self.n = int(f.read())


class PauseOnce(TrialScheduler):
    """Pauses every trial at iteration 3, and lets paused trials run only once a new trial
    has been started after them (a miniature of HyperBand's waiting)."""

    def __init__(self):
        super().__init__(metric="n", mode="max")
        self.paused: set[str] = set()
        self.choices: list[str] = []

    def on_trial_result(self, trial, result):
        if result["training_iteration"] == 3 and trial.trial_id not in self.paused:
            self.paused.add(trial.trial_id)
            return Decision.PAUSE
        return Decision.CONTINUE

    def choose_trial_to_run(self, candidates):
        for c in candidates:
            if c.status == "PAUSED" and c.trial_id in self.paused:
                self.choices.append(c.trial_id)
                return c
        return candidates[0] if candidates else None


def _rows(path):
    return [json.loads(x) for x in open(os.path.join(path, "result.json"))]


def test_pause_saves_and_resumes_without_gaps(tmp_path, executor):
    scheduler = PauseOnce()
    grid = tune.Tuner(
        Counter,
        param_space={"lr": tune.grid_search([0.1, 0.2, 0.3])},
        tune_config=tune.TuneConfig(scheduler=scheduler),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    ).fit()
    assert grid.num_terminated == 3
    for r in grid:
        rows = _rows(r.path)
        assert [x["training_iteration"] for x in rows] == list(range(1, 9))
        assert [x["n"] for x in rows] == list(range(1, 9))  # state restored at the pause
        assert rows[3]["iterations_since_restore"] == 1  # it really restarted after 3
    assert len(set(scheduler.choices)) == 3


class CloneBest(TrialScheduler):
    """At iteration 4, the trial with lr 0.1 continues from the lr 0.3 trial's checkpoint
    with lr 0.5 (PBT's exploit, by hand)."""

    def __init__(self):
        super().__init__(metric="n", mode="max")
        self.done = False
        self.ids: dict[float, tuple[str, str]] = {}

    def on_trial_result(self, trial, result):
        self.ids[trial.config["lr"]] = (trial.trial_id, trial.path)
        if (
            not self.done
            and trial.config["lr"] == 0.1
            and result["training_iteration"] == 4
            and 0.3 in self.ids
        ):
            source = os.path.join(self.ids[0.3][1], "checkpoint_000002")
            if os.path.isdir(source):
                self.done = True
                return TrialRestart(config={**trial.config, "lr": 0.5}, checkpoint=source)
        return Decision.CONTINUE


def test_restart_from_another_trials_checkpoint_with_a_new_config(tmp_path):
    grid = tune.Tuner(
        Counter,
        param_space={"lr": tune.grid_search([0.3, 0.1])},
        tune_config=tune.TuneConfig(scheduler=CloneBest(), max_concurrent_trials=1),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2),
        ),
    ).fit()
    (clone,) = [r for r in grid if r.config["lr"] == 0.5]
    rows = _rows(clone.path)
    # Iterations 1-4 ran with lr 0.1; the clone continues from the source's checkpoint at
    # iteration 2, so rows 3-4 are replaced: 1-2 with lr 0.1, then 3-8 with lr 0.5.
    assert [x["training_iteration"] for x in rows] == list(range(1, 9))
    assert [x["lr"] for x in rows] == [0.1, 0.1] + [0.5] * 6
    assert [x["n"] for x in rows] == list(range(1, 9))  # the source's state, restored
    assert rows[-1]["config"]["lr"] == 0.5
    assert json.load(open(os.path.join(clone.path, "params.json")))["lr"] == 0.5


class NeedsAccuracy(TrialScheduler):
    def __init__(self):
        super().__init__(metric="accuracy", mode="max")

    def on_trial_result(self, trial, result):
        return Decision.CONTINUE


def test_a_metric_never_reported_is_named_at_the_first_result(tmp_path, executor):
    with pytest.raises(ValueError, match="'accuracy'") as info:
        tune.Tuner(
            Counter,
            param_space={"lr": 0.1},
            tune_config=tune.TuneConfig(scheduler=NeedsAccuracy()),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
        ).fit()
    assert "NeedsAccuracy" in str(info.value) and "'n'" in str(info.value)


class HoldsForever(PauseOnce):
    def choose_trial_to_run(self, candidates):
        return None if any(c.status == "PAUSED" for c in candidates) else candidates[0]


def test_a_scheduler_that_waits_forever_is_a_clear_error(tmp_path, executor):
    with pytest.raises(RuntimeError, match="wait forever"):
        tune.Tuner(
            Counter,
            param_space={"lr": 0.1},
            tune_config=tune.TuneConfig(scheduler=HoldsForever()),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
        ).fit()
