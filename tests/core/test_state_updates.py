"""The controller saves the state incrementally between whole snapshots (issue 17)."""

from __future__ import annotations

import json
import time

from overtone import tune
from overtone.storage._state import load_experiment_state


def test_a_running_experiment_appends_changed_trials_and_ends_with_one_whole_file(
    tmp_path, monkeypatch
):
    # Saves 1 s apart, however long the first one took on a loaded machine.
    monkeypatch.setattr("overtone._controller._STATE_COST_FACTOR", 0.0)
    # Appends start at 1,000 trials; this small experiment stands in for a large one.
    monkeypatch.setattr("overtone._state._MIN_TRIALS_FOR_UPDATES", 0)
    seen = {}

    class Probe(tune.Callback):
        completed = 0

        def on_trial_complete(self, iteration, trials, trial, **info):
            Probe.completed += 1
            if Probe.completed == 3:
                time.sleep(1.2)  # the next loop turn saves: an append, not a whole write
            if Probe.completed == 6:
                exp = tmp_path / "exp"
                seen["updates"] = (exp / "experiment_state.updates.jsonl").exists()
                whole = json.loads((exp / "experiment_state.json").read_text())
                seen["whole"] = [t["status"] for t in whole["trials"]]
                seen["loaded"] = {
                    t["trial_id"]: t["status"] for t in load_experiment_state(exp)["trials"]
                }

    def f(config):
        tune.report(score=config["x"])

    analysis = tune.run(
        f,
        name="exp",
        storage_path=str(tmp_path),
        config={"x": tune.grid_search(list(range(8)))},
        max_concurrent_trials=1,
        verbose=0,
        callbacks=[Probe()],
    )
    assert seen["updates"]
    # the snapshot of the start: written as the first trial started, not rewritten since
    assert seen["whole"] in ([], ["RUNNING"])
    assert sum(status == "TERMINATED" for status in seen["loaded"].values()) >= 3
    exp = tmp_path / "exp"
    assert not (exp / "experiment_state.updates.jsonl").exists()
    final = json.loads((exp / "experiment_state.json").read_text())
    assert [t["status"] for t in final["trials"]] == ["TERMINATED"] * 8
    assert len(analysis.trials) == 8


def test_a_small_experiment_keeps_its_state_file_whole_while_it_runs(tmp_path):
    """Below 1,000 trials every save writes the whole file: readers that know nothing of the
    updates file (scripts, older tools) see every trial of a running experiment."""
    seen = {}

    class Probe(tune.Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            if trial.config["x"] == 3:
                time.sleep(1.2)  # a save happens in this pause
            if trial.config["x"] == 5:
                exp = tmp_path / "exp"
                seen["updates"] = (exp / "experiment_state.updates.jsonl").exists()
                whole = json.loads((exp / "experiment_state.json").read_text())
                seen["terminated"] = sum(t["status"] == "TERMINATED" for t in whole["trials"])

    def f(config):
        tune.report(score=config["x"])

    tune.run(
        f,
        name="exp",
        storage_path=str(tmp_path),
        config={"x": tune.grid_search(list(range(6)))},
        max_concurrent_trials=1,
        verbose=0,
        callbacks=[Probe()],
    )
    assert seen["updates"] is False
    assert seen["terminated"] >= 3
