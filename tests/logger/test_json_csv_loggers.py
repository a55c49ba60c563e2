"""JsonLoggerCallback and CSVLoggerCallback write what the controller's journal writes."""

from __future__ import annotations

import csv
import json
import math
import os
import pickle

import numpy as np

from overtone import tune
from overtone.logger import (
    CSVLoggerCallback,
    JsonLoggerCallback,
    LoggerCallback,
    default_logger_callbacks,
)
from overtone.storage._journal import TrialRecorder, rewind_journal


def _drive(callbacks, trial, results, end=True, failed=False):
    for cb in callbacks:
        cb.on_trial_start(1, [trial], trial)
    for i, res in enumerate(results):
        for cb in callbacks:
            cb.on_trial_result(i + 2, [trial], trial, res)
    if end:
        for cb in callbacks:
            hook = cb.on_trial_error if failed else cb.on_trial_complete
            hook(len(results) + 2, [trial], trial)


def test_files_are_byte_identical_to_the_trial_recorder(make_trial, make_result, tmp_path):
    trial = make_trial()
    results = [
        make_result(1, loss=0.5, nested={"a": 1, "b": {"c": np.float32(2.5)}}),
        make_result(2, loss=float("nan"), nested={"a": 2, "b": {"c": np.float64(3.0)}}),
        make_result(3, loss=np.int64(7), nested={"a": 3, "b": {"c": 1.0}}, extra="later"),
    ]
    _drive([JsonLoggerCallback(), CSVLoggerCallback()], trial, results)

    reference = tmp_path / "reference"
    reference.mkdir()
    recorder = TrialRecorder(str(reference))
    for res in results:
        recorder.write(res)
    recorder.close()
    for name in ("result.json", "progress.csv"):
        mine = open(os.path.join(trial.path, name), encoding="utf-8").read()
        assert mine == (reference / name).read_text(encoding="utf-8"), name

    lines = [json.loads(line) for line in open(os.path.join(trial.path, "result.json"))]
    assert [line["training_iteration"] for line in lines] == [1, 2, 3]
    assert math.isnan(lines[1]["loss"]) and lines[2]["loss"] == 7
    assert lines[0]["config"] == {"lr": 0.1, "layers": 2}
    rows = list(csv.DictReader(open(os.path.join(trial.path, "progress.csv"), newline="")))
    assert rows[0]["nested/b/c"] == "2.5" and rows[1]["loss"] == "nan"
    assert "config/lr" not in rows[0] and "extra" not in rows[0]  # columns of the first result


def test_params_files_hold_the_config(make_trial, make_result):
    trial = make_trial(config={"lr": 0.01, "model": {"depth": 3}})
    _drive([JsonLoggerCallback()], trial, [make_result(1, loss=1.0)])
    assert json.load(open(os.path.join(trial.path, "params.json"))) == trial.config
    with open(os.path.join(trial.path, "params.pkl"), "rb") as f:
        assert pickle.load(f) == trial.config


def test_unpicklable_config_still_logs(make_trial, make_result):
    import threading

    trial = make_trial(config={"lock": threading.Lock(), "lr": 0.1})
    _drive([JsonLoggerCallback()], trial, [make_result(1, loss=1.0)])
    assert not os.path.exists(os.path.join(trial.path, "params.pkl"))
    assert json.load(open(os.path.join(trial.path, "params.json")))["lr"] == 0.1
    assert len(open(os.path.join(trial.path, "result.json")).readlines()) == 1


def test_each_result_is_on_disk_before_the_trial_ends(make_trial, make_result):
    trial = make_trial()
    json_cb, csv_cb = JsonLoggerCallback(), CSVLoggerCallback()
    _drive(
        [json_cb, csv_cb], trial, [make_result(1, loss=1.0), make_result(2, loss=0.5)], end=False
    )
    assert len(open(os.path.join(trial.path, "result.json")).readlines()) == 2
    assert len(open(os.path.join(trial.path, "progress.csv")).readlines()) == 3
    json_cb.on_experiment_end([trial])
    csv_cb.on_experiment_end([trial])
    assert not json_cb._files and not csv_cb._files  # every file closed


def test_a_restarted_trial_appends_and_keeps_the_header(make_trial, make_result):
    trial = make_trial()
    _drive(
        [JsonLoggerCallback(), CSVLoggerCallback()],
        trial,
        [make_result(1, loss=1.0, acc=0.1)],
        failed=True,
    )
    # A new process (a restored experiment) with fresh callbacks; the result has more keys.
    _drive(
        [JsonLoggerCallback(), CSVLoggerCallback()],
        trial,
        [make_result(2, zzz=3, loss=0.5, acc=0.2)],
    )
    lines = open(os.path.join(trial.path, "result.json")).read().splitlines()
    assert [json.loads(line)["training_iteration"] for line in lines] == [1, 2]
    with open(os.path.join(trial.path, "progress.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 3 and rows[0][:2] == ["loss", "acc"] and "zzz" not in rows[0]
    assert rows[2][:2] == ["0.5", "0.2"]


def test_a_trial_started_again_in_the_same_process_keeps_its_file(make_trial, make_result):
    trial = make_trial()
    cb = JsonLoggerCallback()
    cb.on_trial_start(1, [trial], trial)
    cb.on_trial_result(2, [trial], trial, make_result(1, loss=1.0))
    cb.on_trial_start(3, [trial], trial)  # paused, then resumed
    cb.on_trial_result(4, [trial], trial, make_result(2, loss=0.5))
    cb.on_trial_complete(5, [trial], trial)
    assert len(open(os.path.join(trial.path, "result.json")).readlines()) == 2


def test_a_restart_follows_a_journal_rewound_under_it(make_trial, make_result):
    # The controller rewinds the journal (replacing the files) before it restarts a trial.
    trial = make_trial()
    cbs = [JsonLoggerCallback(), CSVLoggerCallback()]
    _drive(cbs, trial, [make_result(1, loss=1.0), make_result(2, loss=0.5)], end=False)
    rewind_journal(trial.path, 1)
    _drive(cbs, trial, [make_result(2, loss=0.4)])
    lines = open(os.path.join(trial.path, "result.json")).read().splitlines()
    assert [json.loads(line)["loss"] for line in lines] == [1.0, 0.4]
    with open(os.path.join(trial.path, "progress.csv"), newline="") as f:
        assert [row["loss"] for row in csv.DictReader(f)] == ["1.0", "0.4"]


def test_results_without_a_start_open_the_file(make_trial, make_result):
    trial = make_trial()
    cb = CSVLoggerCallback()
    cb.on_trial_result(1, [trial], trial, make_result(1, loss=1.0))
    cb.on_trial_complete(2, [trial], trial)
    assert len(open(os.path.join(trial.path, "progress.csv")).readlines()) == 2


def test_logger_callback_maps_the_hooks(make_trial, make_result):
    calls = []

    class Recorder(LoggerCallback):
        def log_trial_start(self, trial):
            calls.append(("start", trial.trial_id))

        def log_trial_result(self, iteration, trial, result):
            calls.append(("result", result["training_iteration"]))

        def log_trial_save(self, trial):
            calls.append(("save", trial.trial_id))

        def log_trial_end(self, trial, failed=False):
            calls.append(("end", failed))

    trial = make_trial()
    cb = Recorder()
    cb.on_trial_start(1, [trial], trial)
    cb.on_trial_result(2, [trial], trial, make_result(1))
    cb.on_checkpoint(3, [trial], trial, "/some/checkpoint")
    cb.on_trial_error(4, [trial], trial)
    cb.on_trial_complete(5, [trial], trial)
    assert calls == [
        ("start", trial.trial_id),
        ("result", 1),
        ("save", trial.trial_id),
        ("end", True),
        ("end", False),
    ]


def test_default_loggers_skip_what_the_user_passed(monkeypatch):
    monkeypatch.setattr("overtone.logger.backend_available", lambda: "tensorboardX")
    names = [type(cb).__name__ for cb in default_logger_callbacks([])]
    assert names == ["JsonLoggerCallback", "CSVLoggerCallback", "TBXLoggerCallback"]

    class MyCSV(CSVLoggerCallback):
        pass

    given = [MyCSV(), tune.Callback()]
    names = [type(cb).__name__ for cb in default_logger_callbacks(given)]
    assert names == ["JsonLoggerCallback", "TBXLoggerCallback"]
    assert default_logger_callbacks(None)[0] is not default_logger_callbacks(None)[0]


def test_default_loggers_leave_out_tensorboard_when_it_is_missing(monkeypatch):
    monkeypatch.setattr("overtone.logger.backend_available", lambda: None)
    names = [type(cb).__name__ for cb in default_logger_callbacks([])]
    assert names == ["JsonLoggerCallback", "CSVLoggerCallback"]


# The file loggers writing beside the controller's own journal, under other names.
class JsonCopy(JsonLoggerCallback):
    filename = "result_copy.json"


class CSVCopy(CSVLoggerCallback):
    filename = "progress_copy.csv"


def nested_trainable(config):
    for step in range(5):
        tune.report({"loss": config["x"] / (step + 1), "eval": {"acc": step / 10}})


def test_in_a_run_the_files_match_the_controllers_journal(tmp_path, executor):
    tune.run(
        nested_trainable,
        name="exp",
        config={"x": tune.grid_search([1.0, 2.0])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        callbacks=[JsonCopy(), CSVCopy()],
    )
    trial_dirs = [d for d in (tmp_path / "exp").iterdir() if d.is_dir()]
    assert len(trial_dirs) == 2
    for d in trial_dirs:
        assert (d / "result_copy.json").read_text() == (d / "result.json").read_text()
        assert (d / "progress_copy.csv").read_text() == (d / "progress.csv").read_text()
