"""The state files' writers and loaders (storage/_state.py) and the layout's names."""

from __future__ import annotations

import json
import pickle

import pytest

from overtone._errors import ExperimentStateError, TuneError
from overtone.storage._layout import (
    FORMAT_VERSION,
    checkpoint_iteration,
    checkpoint_name,
    is_checkpoint_name,
)
from overtone.storage._state import (
    append_state_updates,
    load_experiment_entries,
    load_experiment_state,
    load_search_state,
    save_experiment_state,
    save_search_state,
)


def test_a_saved_state_loads_back(tmp_path):
    state = {
        "format_version": FORMAT_VERSION,
        "mode": "min",
        "trials": [{"trial_id": "a_00000", "dirname": "a_00000", "status": "TERMINATED"}],
    }
    save_experiment_state(str(tmp_path), state)
    assert json.loads((tmp_path / "experiment_state.json").read_text()) == state
    assert load_experiment_state(tmp_path) == state
    assert load_experiment_state(tmp_path / "experiment_state.json") == state


def test_a_state_of_another_format_is_refused(tmp_path):
    save_experiment_state(str(tmp_path), {"format_version": FORMAT_VERSION + 1, "trials": []})
    with pytest.raises(ExperimentStateError, match="format_version"):
        load_experiment_state(tmp_path)
    with pytest.raises(ExperimentStateError, match="has no experiment_state.json"):
        load_experiment_state(tmp_path / "nothing")


def test_the_search_state_round_trips_and_a_corrupted_one_raises(tmp_path):
    assert load_search_state(str(tmp_path)) is None
    save_search_state(str(tmp_path), pickle.dumps({"searcher": [1, 2]}))
    assert load_search_state(str(tmp_path)) == {"searcher": [1, 2]}
    (tmp_path / "search_state.pkl").write_bytes(b"not a pickle")
    with pytest.raises(TuneError, match="search_state.pkl is corrupted"):
        load_search_state(str(tmp_path))


def test_checkpoint_names_are_built_and_parsed_in_one_place():
    assert checkpoint_name(3) == "checkpoint_000003"
    assert checkpoint_name(1_234_567) == "checkpoint_1234567"
    for iteration in (0, 3, 999_999, 1_234_567):
        assert checkpoint_iteration(checkpoint_name(iteration)) == iteration
        assert is_checkpoint_name(checkpoint_name(iteration))
    for name in ("checkpoint_3", "checkpoint_000003.tmp", ".save-x", "checkpoint_", "x_000003"):
        assert checkpoint_iteration(name) is None
        assert not is_checkpoint_name(name)


def _entry(trial_id, status):
    return {"trial_id": trial_id, "dirname": trial_id, "status": status}


def test_updates_after_a_snapshot_replace_and_add_trials_in_order(tmp_path):
    base = {"format_version": FORMAT_VERSION, "snapshot_id": "s1"}
    save_experiment_state(str(tmp_path), {**base, "trials": [_entry("a", "RUNNING")]})
    append_state_updates(str(tmp_path), "s1", [_entry("b", "PENDING")])
    append_state_updates(str(tmp_path), "s1", [_entry("a", "TERMINATED"), _entry("b", "RUNNING")])
    trials = load_experiment_state(tmp_path)["trials"]
    assert [(t["trial_id"], t["status"]) for t in trials] == [
        ("a", "TERMINATED"),
        ("b", "RUNNING"),
    ]


def test_updates_of_an_older_snapshot_and_a_torn_line_are_ignored(tmp_path):
    base = {"format_version": FORMAT_VERSION, "snapshot_id": "s1"}
    save_experiment_state(str(tmp_path), {**base, "trials": [_entry("a", "RUNNING")]})
    append_state_updates(str(tmp_path), "s1", [_entry("a", "TERMINATED")])
    updates = tmp_path / "experiment_state.updates.jsonl"
    old = updates.read_bytes()
    # A crash after the next snapshot was written but before the updates file was removed:
    save_experiment_state(
        str(tmp_path), {**base, "snapshot_id": "s2", "trials": [_entry("a", "PAUSED")]}
    )
    assert not updates.exists()
    updates.write_bytes(old + b'{"snapshot": "s2", "trial": {"trial_id": "a", "dirn')
    assert load_experiment_state(tmp_path)["trials"] == [_entry("a", "PAUSED")]


def test_an_invalid_update_is_reported_like_an_invalid_entry(tmp_path):
    base = {"format_version": FORMAT_VERSION, "snapshot_id": "s1"}
    save_experiment_state(str(tmp_path), {**base, "trials": []})
    append_state_updates(str(tmp_path), "s1", [_entry("a", "SLEEPING")])
    with pytest.raises(ExperimentStateError, match="SLEEPING"):
        load_experiment_state(tmp_path)


def test_a_state_whose_trials_are_a_generator_is_written_as_json(tmp_path):
    entries = [_entry("a", "RUNNING"), _entry("b", "PENDING")]
    state = {"format_version": FORMAT_VERSION, "mode": None, "snapshot_id": "s1"}
    save_experiment_state(str(tmp_path), {**state, "trials": (e for e in entries)})
    loaded = json.loads((tmp_path / "experiment_state.json").read_text())
    assert loaded == {**state, "trials": entries}
    assert load_experiment_state(tmp_path)["trials"] == entries


def _both(path):
    """What the whole parse and the entry-by-entry one read (the latter as (head, entries))."""
    built = []
    head, entries = load_experiment_entries(path, lambda e: built.append(e) or len(built))
    assert entries == list(range(1, len(built) + 1))  # build() ran once per entry, in order
    return load_experiment_state(path), {**head, "trials": built}


def test_entries_load_one_at_a_time_as_the_whole_parse_reads_them(tmp_path):
    base = {"format_version": FORMAT_VERSION, "snapshot_id": "s1", "mode": "max", "x": [1]}
    encoded = '{"trial_id": "b", "dirname": "b", "status": "RUNNING", "config": {"y": [1, {}]}}'
    trials = (e for e in [_entry("a", "RUNNING"), encoded, _entry("c", "PENDING")])
    save_experiment_state(str(tmp_path), {**base, "trials": trials})
    append_state_updates(str(tmp_path), "s1", [_entry("a", "TERMINATED"), _entry("d", "ERROR")])
    append_state_updates(str(tmp_path), "s0", [_entry("c", "ERROR")])  # stale: ignored
    whole, streamed = _both(tmp_path)
    assert streamed == whole
    assert [t["status"] for t in whole["trials"]] == ["TERMINATED", "RUNNING", "PENDING", "ERROR"]
    assert whole["trials"][1]["config"] == {"y": [1, {}]}


@pytest.mark.parametrize(
    "text",
    [
        # hand-written: the trials first, pretty-printed, keys after them
        json.dumps(
            {"trials": [_entry("a", "PAUSED")], "format_version": FORMAT_VERSION}, indent=2
        ),
        json.dumps({"format_version": FORMAT_VERSION, "trials": []}),
        '  {"format_version": @V ,"trials" : [ ] , "name":"n" }\n',
    ],
)
def test_entries_load_from_any_layout_of_the_json(tmp_path, text):
    (tmp_path / "experiment_state.json").write_text(text.replace("@V", str(FORMAT_VERSION)))
    whole, streamed = _both(tmp_path)
    assert streamed == whole


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"format_version": @V, "trials": [{"trial_id"', "corrupted"),
        ('{"format_version": 99, "trials": []}', "format_version"),
        ('{"format_version": @V, "trials": [{"trial_id": "a"}]}', "dirname"),
        ('{"format_version": @V, "trials": {}}', "not a list"),
        ("[]", "corrupted"),
        (b"\xff\xfe", "corrupted"),
    ],
)
def test_entries_of_a_bad_state_raise_what_the_whole_parse_raises(tmp_path, text, match):
    path = tmp_path / "experiment_state.json"
    version = str(FORMAT_VERSION)
    path.write_bytes(text if isinstance(text, bytes) else text.replace("@V", version).encode())
    with pytest.raises(ExperimentStateError, match=match):
        load_experiment_state(tmp_path)
    with pytest.raises(ExperimentStateError, match=match):
        load_experiment_entries(tmp_path, lambda e: e)


def test_the_state_as_the_controller_writes_it_is_never_parsed_whole(tmp_path, monkeypatch):
    state = {"format_version": FORMAT_VERSION, "mode": None, "snapshot_id": "s1"}
    entries = [_entry(f"t{i}", "TERMINATED") for i in range(50)]
    save_experiment_state(str(tmp_path), {**state, "trials": iter(entries)})
    append_state_updates(str(tmp_path), "s1", [_entry("t3", "ERROR")])

    def whole(*args, **kwargs):
        raise AssertionError("parsed whole")

    monkeypatch.setattr("overtone.storage._state.parse_experiment_state", whole)
    head, trials = load_experiment_entries(tmp_path, lambda e: e["status"])
    assert head == state
    assert trials == ["TERMINATED"] * 3 + ["ERROR"] + ["TERMINATED"] * 46
