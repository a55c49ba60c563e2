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
