from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from overtone._errors import TuneError
from overtone._trial import Resources, TrialStatus
from overtone.analysis import ExperimentAnalysis, TrialRecord
from overtone.analysis._trial_record import flatten_dict
from overtone.checkpoint import Checkpoint
from overtone.storage._journal import read_results


def records(experiment: str) -> dict[str, TrialRecord]:
    return {trial.trial_id: trial for trial in ExperimentAnalysis(experiment).trials}


def test_flatten_dict() -> None:
    nested = {"a": 1, "b": {"c": 2, "d": {"e": [3]}}, "f": {}}
    # An empty nested dict stays a value (as in progress.csv and the progress table).
    assert flatten_dict(nested) == {"a": 1, "b/c": 2, "b/d/e": [3], "f": {}}


def test_read_results_skips_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3, "b"')
    assert read_results(os.fspath(path)) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{"a": 2}\n')
    assert read_results(os.fspath(path)) == [{"a": 1}, {"a": 2}]
    assert read_results(os.fspath(tmp_path / "missing.json")) == []


def test_read_results_rejects_corruption_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(TuneError, match=r"result.json is corrupted: line 2: "):
        read_results(os.fspath(path))
    path.write_text('{"a": 1}\n[1, 2]\n{"a": 3}\n')
    with pytest.raises(TuneError, match=r"line 2 is list, not an object"):
        read_results(os.fspath(path))


def test_terminated_trial_with_checkpoints(experiment: str) -> None:
    trial = records(experiment)["a"]
    trial_dir = os.path.join(experiment, "train_a_0_alpha=0.001,beta=2")
    assert trial.trial_id == "a"
    assert trial.trial_name == "train_a"
    assert str(trial) == "train_a"
    assert trial.config == {"alpha": 0.001, "beta": 2}
    assert trial.status is TrialStatus.TERMINATED
    assert trial.path == trial.local_path == trial.logdir == trial_dir
    assert os.path.isabs(trial.path)
    assert trial.experiment_tag == "0_alpha=0.001,beta=2"
    assert trial.num_failures == 0
    assert trial.error_file is None
    assert trial.error_msg is None
    assert trial.resources == Resources(cpu=1, gpu=0)
    assert trial.last_result["mean_loss"] == 2.0
    assert trial.last_result["eval"] == {"f1": 0.4, "acc": 0.9}
    assert trial.last_result["config"] == {"alpha": 0.001, "beta": 2}
    assert trial.last_result["training_iteration"] == 3
    checkpoints = trial.checkpoints
    assert [c.path for c, _ in checkpoints] == [
        os.path.join(trial_dir, f"checkpoint_00000{i}") for i in (1, 2, 3)
    ]
    assert all(isinstance(c, Checkpoint) for c, _ in checkpoints)
    assert [m["mean_loss"] for _, m in checkpoints] == [3.0, 1.0, 2.0]
    assert trial.checkpoint == Checkpoint(os.path.join(trial_dir, "checkpoint_000003"))
    assert [r["mean_loss"] for r in trial.load_results()] == [3.0, 1.0, 2.0]


def test_errored_trial(experiment: str) -> None:
    trial = records(experiment)["c"]
    assert trial.status is TrialStatus.ERROR
    assert trial.num_failures == 1
    assert trial.error_file == os.path.join(trial.path, "error.txt")
    assert trial.error_msg == "Traceback (most recent call last):\nValueError: boom\n"
    assert trial.resources == Resources(cpu=2, gpu=1)
    assert trial.checkpoint is None and trial.checkpoints == []
    # The torn line a crash left behind is skipped.
    assert [r["mean_loss"] for r in trial.load_results()] == [4.0]


def test_trial_that_never_reported(experiment: str) -> None:
    trial = records(experiment)["e"]
    assert trial.status is TrialStatus.PENDING
    assert trial.last_result == {"trial_id": "e", "config": {"alpha": 2.0, "beta": 5}}
    assert trial.load_results() == []


def test_nan_is_read_back(experiment: str) -> None:
    trial = records(experiment)["d"]
    assert math.isnan(trial.last_result["mean_loss"])
    assert trial.load_results()[0]["mean_loss"] == 0.05


def test_last_result_is_a_copy(experiment: str) -> None:
    trial = records(experiment)["a"]
    trial.last_result["mean_loss"] = 99
    assert trial.last_result["mean_loss"] == 2.0


def test_a_record_keeps_its_entry_packed_and_gives_the_same_values(tmp_path: Path) -> None:
    from overtone.analysis._trial_record import _Packed, pack, unpack

    entry = {
        "trial_id": "t_00001",
        "trial_name": "f_t_00001",
        "dirname": "f_t_00001_1",
        "config": {"lr": 0.1, "layers": [1, {"n": None}], "flag": True, "deep": {}},
        "status": "ERROR",
        "experiment_tag": "1_lr=0.1",
        "last_result": {"loss": 0.5, "done": False, "hist": [1.5, 2], "text": "x" * 100},
        "num_failures": 2,
        "error_file": "error.txt",
        "checkpoints": [
            {"dirname": "checkpoint_000001", "metrics": {"loss": 0.7}, "best": False},
            {"dirname": "checkpoint_000002", "metrics": {"loss": 0.5}},
        ],
        "resources": {"cpu": 2.0, "gpu": 0.0},
    }
    memo: dict = {}
    record = TrialRecord(entry, str(tmp_path), memo)
    other = TrialRecord({**entry, "trial_id": "t_00002"}, str(tmp_path), memo)
    assert record.config == entry["config"]
    assert record.config is not record.config  # built afresh: changing it changes nothing
    assert record.last_result == {**entry["last_result"], "trial_id": "t_00001",
                                  "config": entry["config"]}  # fmt: skip
    assert record.status is TrialStatus.ERROR and record.num_failures == 2
    assert record.path == os.path.join(str(tmp_path), "f_t_00001_1")
    assert record.error_file == os.path.join(record.path, "error.txt")
    assert record.resources == Resources(cpu=2.0) and record.resources is other.resources
    assert [c.path for c, _ in record.checkpoints] == [
        os.path.join(record.path, "checkpoint_000001"),
        os.path.join(record.path, "checkpoint_000002"),
    ]
    assert [m for _, m in record.best_checkpoints] == [{"loss": 0.5}]
    assert record.checkpoint.path == os.path.join(record.path, "checkpoint_000002")
    # packed: no dict per trial, the keys shared between records
    assert type(record._last_result) is _Packed and type(record._config) is _Packed
    assert record._last_result[0] is other._last_result[0]
    for value in (entry, [], {}, [[{}]], {"a": [None, 1.5, "s", True, 7]}):
        assert unpack(pack(value, {})) == value
