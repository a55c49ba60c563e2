"""``Result.best_checkpoints`` holds the best ``num_to_keep`` by score, as in Ray Tune
(issue 12, bug 3): the latest may stay on disk for a restore, but is not listed as a best."""

from __future__ import annotations

import os
import tempfile

import pytest

from overtone import tune


def scored(config):
    for score in [5, 1, 9, 3, 7, 2]:
        with tempfile.TemporaryDirectory() as d:
            tune.report({"score": score}, checkpoint=tune.Checkpoint.from_directory(d))


@pytest.mark.parametrize(
    ("order", "best"),
    [
        ("max", ["checkpoint_000003", "checkpoint_000005"]),
        ("min", ["checkpoint_000002", "checkpoint_000006"]),
    ],
)
def test_best_checkpoints_are_the_best_n_by_score(tmp_path, order, best):
    grid = tune.Tuner(
        scored,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute="score", checkpoint_score_order=order
            ),
        ),
    ).fit()
    result = grid[0]
    names = [os.path.basename(c.path) for c, _ in result.best_checkpoints]
    assert sorted(names) == best
    # The latest stays on disk and is the result's checkpoint, for a restore.
    assert os.path.basename(result.checkpoint.path) == "checkpoint_000006"
    assert os.path.isdir(result.checkpoint.path)
    # Restored from disk, the experiment lists the same best ones.
    again = tune.Tuner.restore(result.path.rsplit(os.sep, 1)[0], trainable=scored).fit()
    names = [os.path.basename(c.path) for c, _ in again[0].best_checkpoints]
    assert sorted(names) == best


def test_best_checkpoints_without_a_score_are_the_most_recent(tmp_path):
    grid = tune.Tuner(
        scored,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    ).fit()
    names = [os.path.basename(c.path) for c, _ in grid[0].best_checkpoints]
    assert names == ["checkpoint_000005", "checkpoint_000006"]
