"""A paused trial gives its resources back: HyperBand's brackets run through the real
controller with more trials than CPUs, for function and class trainables.

HyperBand pauses each trial at its rung until the whole bracket is there; with fewer CPUs than
trials, the paused trials' CPUs must go to the trials still on their way to the rung, and once
every live trial waits (or a bracket cannot fill), the survivors must start again.
"""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from overtone import tune
from overtone.executors import LocalExecutor
from overtone.schedulers import HyperBandForBOHB, HyperBandScheduler

MAX_T = 9


def counts(config):
    """Reports ``x * step``, checkpointing every step and resuming from the last."""
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with open(os.path.join(ckpt.path, "state.json")) as f:
            start = json.load(f)["step"]
    for step in range(start + 1, MAX_T + 1):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report(
                {"score": config["x"] * step, "resumed_from": start},
                checkpoint=tune.Checkpoint.from_directory(d),
            )


class Counts(tune.Trainable):
    """The class version: saves a checkpoint when it is paused, resumes from it."""

    def setup(self, config):
        self.x = config["x"]
        self.step_count = 0
        self.resumed_from = 0

    def step(self):
        self.step_count += 1
        return {"score": self.x * self.step_count, "resumed_from": self.resumed_from}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json"), "w") as f:
            json.dump({"step": self.step_count}, f)

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json")) as f:
            self.step_count = self.resumed_from = json.load(f)["step"]


def rows(trial) -> list[dict]:
    with open(os.path.join(trial.path, "result.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize("scheduler_class", [HyperBandScheduler, HyperBandForBOHB])
@pytest.mark.parametrize("trainable", [counts, Counts], ids=["function", "class"])
@pytest.mark.parametrize("num_samples", [1, 5])
def test_hyperband_runs_its_brackets_to_the_end(tmp_path, scheduler_class, trainable, num_samples):
    # max_t=9, eta=3: the first bracket takes 9 trials, with rungs at 1, 3 and 9. With 1 or 5
    # trials it never fills, so it closes with those it has once all of them are paused.
    scheduler = scheduler_class(metric="score", mode="max", max_t=MAX_T, reduction_factor=3)
    analysis = tune.run(
        trainable,
        config={"x": tune.uniform(0.1, 1.0)},
        num_samples=num_samples,
        scheduler=scheduler,
        storage_path=str(tmp_path),
        verbose=0,
        seed=1,
        executor=LocalExecutor(num_cpus=2, num_gpus=0),
    )
    trials = analysis.trials
    assert len(trials) == num_samples
    assert all(str(t.status) == "TERMINATED" for t in trials)
    best = max(trials, key=lambda t: t.config["x"])
    # The best trial survives every rung: it runs to max_t, each step reported once, and
    # every resume continues from the checkpoint its pause left.
    steps = [r["training_iteration"] for r in rows(best)]
    assert steps == list(range(1, MAX_T + 1))
    # Paused at the first rung (1); the bracket closes with the trials it has, so that rung
    # keeps max(1, floor(n / 3)) of them and the next rungs are complete at once.
    assert [r["resumed_from"] for r in rows(best)] == [0] + [1] * (MAX_T - 1)
    for trial in trials:
        if trial is not best:  # stopped at the first rung (a loser HyperBand resumes
            # before the controller could end it stops at its next result)
            assert [r["training_iteration"] for r in rows(trial)] in ([1], [1, 2])
