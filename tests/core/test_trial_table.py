"""Finished trials cost the driver a spill offset, not a Trial object (issue 17)."""

from __future__ import annotations

import json
import os

import pytest
from test_controller import counting, make_spec

from overtone import tune
from overtone._controller import Controller
from overtone._trial import Resources, TrialStatus
from overtone._trial_state import Trial
from overtone._trial_table import RawEntry, TrialTable
from overtone.storage._files import dumps
from overtone.storage._state import load_experiment_state


def _trial(path: str, index: int) -> Trial:
    trial = Trial(
        f"abc_{index:05d}",
        f"f_abc_{index:05d}",
        f"f_abc_{index:05d}_{index}_x={index}",
        path,
        {"x": index, "nested": {"y": [index, None, 1.5]}},
        Resources(cpu=1),
        f"{index}_x={index}",
        "f",
    )
    trial.last_result = {"score": index * 0.5, "done": True, "config": trial.config}
    trial.checkpoints = [{"dirname": "checkpoint_000001", "metrics": {"score": index}}]
    return trial


def test_a_retired_trial_reads_back_as_it_was_and_keeps_its_place(tmp_path):
    table = TrialTable(str(tmp_path))
    trials = [_trial(str(tmp_path), i) for i in range(5)]
    for trial in trials:
        table.add(trial)
    for i in (3, 0, 1):  # finishing out of order
        trials[i].status = TrialStatus.TERMINATED
        index = table.retire(trials[i])
        assert json.loads(table.entry(index)) == trials[i].to_state()
    assert sorted(t.trial_id for t in table.live()) == ["abc_00002", "abc_00004"]
    assert list(table) == [t.trial_id for t in trials]  # creation order, retired or not
    for original, read in zip(trials, table.values()):
        assert read.to_state() == original.to_state()
        assert read.last_result == original.last_result  # the config is in it again
        assert read.path == original.path
    assert table["abc_00003"].to_state() == trials[3].to_state()  # found by id in the spill
    assert table["abc_00002"] is trials[2]  # a live trial is the controller's own object
    with pytest.raises(KeyError):
        table["nope"]
    assert table.snapshot_at(0) == trials[0].snapshot()
    assert table.snapshot_at(-1) == trials[4].snapshot()
    entries = list(table.entries())
    assert [isinstance(e, RawEntry) for e in entries] == [True, True, False, True, False]
    assert [json.loads(e) if isinstance(e, str) else e for e in entries] == [
        t.to_state() for t in trials
    ]
    assert entries[0] == dumps(trials[0].to_state())  # the very text a save writes
    table.close()


def test_the_spill_holds_many_entries_past_its_buffer(tmp_path):
    table = TrialTable(str(tmp_path))
    trials = [_trial(str(tmp_path), i) for i in range(600)]  # ~300 KiB of entries
    for i, trial in enumerate(trials):
        table.add(trial)
        table.retire(trial)
        if i % 97 == 0:  # reads between writes
            assert table.at(i).to_state() == trial.to_state()
    assert not table.live()
    assert [t.to_state() for t in table.values()] == [t.to_state() for t in trials]
    # The spill is an unlinked file: nothing is left in the experiment folder.
    assert os.listdir(tmp_path) == []
    table.close()


def test_an_experiment_keeps_no_finished_trial_object_yet_callbacks_see_them_all(tmp_path):
    seen = []

    class Probe(tune.Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            # every finished trial so far, read back with its last result
            seen.append(
                [(t.config["x"], t.status.value, t.last_result.get("score")) for t in trials]
            )

    def f(config):
        tune.report(score=config["x"] * 10)

    analysis = tune.run(
        f,
        name="exp",
        storage_path=str(tmp_path),
        config={"x": tune.grid_search(list(range(6)))},
        max_concurrent_trials=1,
        verbose=0,
        callbacks=[Probe()],
    )
    assert seen[-1] == [(x, "TERMINATED", x * 10) for x in range(6)]
    assert seen[2][:3] == [(x, "TERMINATED", x * 10) for x in range(3)]
    state = load_experiment_state(tmp_path / "exp")
    assert [t["last_result"]["score"] for t in state["trials"]] == [x * 10 for x in range(6)]
    assert sorted(t.last_result["score"] for t in analysis.trials) == [x * 10 for x in range(6)]
    assert all(t.last_result["done"] is True for t in analysis.trials)


def test_the_controller_retires_every_finished_trial(tmp_path):
    spec = make_spec(tmp_path, counting(2), xs=(1, 2, 3))
    controller = Controller(spec)
    controller.run()
    assert controller.trials.live() == []  # nothing but spill offsets
    assert sorted(t.last_result["score"] for t in controller.trials.values()) == [2, 4, 6]
    assert {t.status for t in controller.trials.values()} == {TrialStatus.TERMINATED}


def test_resuming_a_large_experiment_keeps_every_trial_and_adds_more(tmp_path, monkeypatch):
    # The state is appended to from this many trials on: this experiment stands in for one
    # of thousands.
    monkeypatch.setattr("overtone._state._MIN_TRIALS_FOR_UPDATES", 10)

    def f(config):
        tune.report(score=config["x"])

    def run(n, resume=None):
        return tune.run(
            f,
            name="exp",
            storage_path=str(tmp_path),
            config={"x": tune.sample_from(lambda spec: 1)},
            num_samples=n,
            max_concurrent_trials=2,
            verbose=0,
            resume=resume,
        )

    first = run(40)
    before = load_experiment_state(tmp_path / "exp")["trials"]
    assert len(first.trials) == 40
    analysis = run(55, resume=True)
    after = load_experiment_state(tmp_path / "exp")["trials"]
    assert len(after) == 55
    assert after[:40] == before  # the finished trials, spilled on restore, written unchanged
    assert [t["status"] for t in after] == ["TERMINATED"] * 55
    assert [t.last_result["score"] for t in analysis.trials] == [1] * 55


def test_the_offsets_grow_in_fixed_chunks_and_read_back():
    from overtone._trial_table import _Int64s

    values = _Int64s()
    for i in range(20000):  # three chunks
        values.append(i * 7 - 5)
    values[8192] = -1
    assert len(values) == 20000 and values[-1] == 19999 * 7 - 5 and values[8192] == -1
    assert list(values)[8190:8194] == [8190 * 7 - 5, 8191 * 7 - 5, -1, 8193 * 7 - 5]
    with pytest.raises(IndexError):
        values[20000]
