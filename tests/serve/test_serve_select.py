"""Which checkpoint is served: the best trial's best checkpoint, from any kind of result."""

from __future__ import annotations

import os

import pytest

from overtone.analysis import ExperimentAnalysis, ResultGrid
from overtone.serve._select import resolve


def _version(selection) -> int:
    with open(os.path.join(selection.checkpoint.path, "version.json")) as f:
        return int(f.read().split(":")[1].strip(" }"))


def test_every_kind_of_experiment_result_gives_the_best_checkpoint(versions_experiment):
    path = versions_experiment.experiment_path
    grid = ResultGrid(ExperimentAnalysis(path))
    for source in (versions_experiment, grid, path, ExperimentAnalysis(path)):
        selection, follower = resolve(None, None, source, None, None, False, 1.0)
        assert follower is None
        assert _version(selection) == 3 and selection.score == 3
        assert selection.config == {"versions": 3}
        assert selection.trial_id == versions_experiment.trials[0].trial_id
    selection, _ = resolve(None, None, path, "score", "min", False, 1.0)
    assert _version(selection) == 1  # the metric and mode given win over the experiment's


def test_a_result_gives_its_best_checkpoint_and_a_folder_its_trial_config(versions_experiment):
    result = ResultGrid(ExperimentAnalysis(versions_experiment.experiment_path))[0]
    selection, _ = resolve(None, None, result, "score", "min", False, 1.0)
    assert _version(selection) == 1 and selection.config == {"versions": 3}
    selection, _ = resolve(None, None, result, None, None, False, 1.0)
    assert _version(selection) == 3  # without a metric: the latest
    folder = selection.checkpoint.path
    selection, _ = resolve(folder, None, None, None, None, False, 1.0)
    assert selection.checkpoint.path == folder and selection.config == {"versions": 3}
    selection, _ = resolve(folder, {"given": 1}, None, None, None, False, 1.0)
    assert selection.config == {"given": 1}


def test_follow_mode_finds_only_better_checkpoints(versions_experiment):
    path = versions_experiment.experiment_path
    best, follower = resolve(None, None, path, "score", "min", True, 1.0)
    assert _version(best) == 1
    assert follower(best) is None  # nothing better for "min"
    worst, _ = resolve(None, None, path, "score", "max", False, 1.0)
    assert follower(worst) is not None and _version(follower(worst)) == 1


@pytest.mark.parametrize(
    ("checkpoint", "result", "metric", "follow", "words"),
    [
        ("/nope", None, None, False, "must be a checkpoint folder"),
        (None, "EXP", "missing", False, "no checkpoint of"),
        ("/tmp", "EXP", None, False, "checkpoint and result are both given"),
        (None, None, None, False, "one must say what to serve"),
        ("/tmp", None, None, True, "is not an experiment"),
    ],
)
def test_what_cannot_be_served_is_named(
    versions_experiment, checkpoint, result, metric, follow, words
):
    if result == "EXP":
        result = versions_experiment.experiment_path
    with pytest.raises(ValueError, match=words):
        resolve(checkpoint, None, result, metric, "max", follow, 0.3)
