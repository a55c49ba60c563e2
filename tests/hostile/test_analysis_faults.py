"""What a trial reports or a user deletes must not break the analysis: a metric too big for a
float, and checkpoints deleted from disk after the run."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from overtone import tune


def huge(config):
    tune.report(m=config["m"])


def test_a_metric_beyond_the_float_range_is_compared_exactly(tmp_path, executor):
    values = [5, 10**400, 7.5, -(10**400)]
    analysis = tune.run(
        huge,
        config={"m": tune.grid_search(values)},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert analysis.get_best_config("m", "max") == {"m": 10**400}
    assert analysis.get_best_config("m", "min") == {"m": -(10**400)}
    for scope in ("all", "avg", "last-5-avg"):
        assert analysis.get_best_config("m", "max", scope=scope) == {"m": 10**400}
    results = tune.ResultGrid(analysis)
    assert results.get_best_result("m", "max").metrics["m"] == 10**400


def checkpoints_scores(config):
    for score in config["scores"]:
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "s.txt"), "w") as f:
                f.write(str(score))
            tune.report({"score": score}, checkpoint=tune.Checkpoint.from_directory(d))


def test_a_checkpoint_deleted_from_disk_is_never_returned(tmp_path, executor, caplog):
    analysis = tune.run(
        checkpoints_scores,
        config={"scores": [1, 9, 5]},
        metric="score",
        mode="max",
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    trial = analysis.trials[0]
    best = analysis.get_best_checkpoint(trial, "score", "max")
    with best.as_directory() as d, open(os.path.join(d, "s.txt")) as f:
        assert f.read() == "9"
    shutil.rmtree(best.path)
    with caplog.at_level(logging.WARNING):
        second = analysis.get_best_checkpoint(trial, "score", "max")
    assert second is not None and os.path.isdir(second.path)
    with open(os.path.join(second.path, "s.txt")) as f:
        assert f.read() == "5"
    assert best.path in caplog.text and "no longer exist" in caplog.text
    assert analysis.best_checkpoint == second
    # The same through the new API's Result.
    (result,) = tune.ResultGrid(analysis)
    assert result.get_best_checkpoint("score", "max") == second
    for checkpoint, _ in trial.checkpoints:
        shutil.rmtree(checkpoint.path, ignore_errors=True)
    assert analysis.get_best_checkpoint(trial, "score", "max") is None
    assert result.get_best_checkpoint("score", "max") is None
