"""Checkpoints: the classic checkpoint_dir, checkpoint_at_end, resuming a killed trial."""

from __future__ import annotations

import json
import os
import signal

import pytest

from overtone import tune


def classic(config, checkpoint_dir=None):
    start = 0
    if checkpoint_dir:
        with open(os.path.join(checkpoint_dir, "s.json")) as f:
            start = json.load(f)["step"]
    for step in range(start + 1, 6):
        with tune.checkpoint_dir(step=step) as d:
            with open(os.path.join(d, "s.json"), "w") as f:
                json.dump({"step": step}, f)
        tune.report(step=step)
        if step == 3 and not os.path.exists(config["flag"]):
            open(config["flag"], "w").close()
            os.kill(os.getpid(), signal.SIGKILL)  # the trial's process dies mid-run


def test_classic_checkpoint_dir_and_resume_after_sigkill(tmp_path, executor):
    analysis = tune.run(
        classic,
        config={"flag": str(tmp_path / "killed-once")},
        max_failures=2,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    (trial,) = analysis.trials
    assert str(trial.status) == "TERMINATED" and trial.num_failures == 1
    rows = [json.loads(x) for x in open(os.path.join(trial.path, "result.json"))]
    # Resumed from the checkpoint of step 3: no step is missing or repeated.
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4, 5]
    assert "SIGKILL" in open(os.path.join(trial.path, "error.txt")).read()
    assert os.path.basename(analysis.get_best_checkpoint(trial, "step", "max").path) == (
        "checkpoint_000005"
    )


class Steps(tune.Trainable):
    def setup(self, config):
        self.n = 0

    def step(self):
        self.n += 1
        return {"n": self.n}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n"), "w") as f:
            f.write(str(self.n))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n")) as f:
            self.n = int(f.read())


def test_checkpoint_at_end_for_a_class_trainable(tmp_path, executor):
    grid = tune.Tuner(
        Steps,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
            stop={"training_iteration": 4},
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True),
        ),
    ).fit()
    ckpt = grid[0].checkpoint
    assert os.path.basename(ckpt.path) == "checkpoint_000004"
    assert open(os.path.join(ckpt.path, "n")).read() == "4"


def test_checkpoint_at_end_is_refused_for_functions(tmp_path, executor):
    with pytest.raises(ValueError, match="checkpoint_at_end"):
        tune.run(
            classic,
            checkpoint_at_end=True,
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
        )
