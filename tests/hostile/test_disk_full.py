"""A full disk (issue 13, item 3): a clear error naming the path, no stray temporary files,
a state file written before the first result, and a restore that continues the same trials.

The disk is made "full" by making the driver's write helpers raise ENOSPC after a number of
writes (no root, no small file system needed)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from overtone import tune
from overtone._errors import StorageFullError, TuneError
from overtone.storage import _files, _journal


def reporting(config):
    for i in range(5):
        tune.report(score=config["x"] * i)


class _Disk:
    """Lets ``room`` writes through, then every write fails as on a full disk."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.real = _files.write_all

    def write_all(self, fd: int, data: bytes) -> None:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= 1
        self.real(fd, data)


def _fill(monkeypatch, room: int) -> None:
    disk = _Disk(room)
    monkeypatch.setattr(_files, "write_all", disk.write_all)
    monkeypatch.setattr(_journal, "write_all", disk.write_all)


def _tmp_files(path: Path) -> list[str]:
    return [str(p) for p in path.rglob("*") if ".tmp" in p.name]


def test_a_disk_that_fills_at_once_keeps_the_trials_and_restores_them(
    tmp_path, monkeypatch, executor
):
    _fill(monkeypatch, room=2)  # the search state and the state file, then nothing
    with pytest.raises(StorageFullError) as info:
        tune.run(
            reporting,
            config={"x": tune.grid_search([1, 2, 3])},
            storage_path=str(tmp_path),
            name="exp",
            verbose=0,
            executor=executor,
        )
    exp = tmp_path / "exp"
    message = str(info.value)
    assert message.startswith(f"the disk holding {exp}") and "is full" in message, message
    assert isinstance(info.value, TuneError) and info.value.errno == errno.ENOSPC
    assert _tmp_files(exp) == []
    state = json.loads((exp / "experiment_state.json").read_text())
    ids = sorted(t["trial_id"] for t in state["trials"])
    assert len(ids) >= 2  # the trials that started are recorded, not an empty list
    monkeypatch.undo()  # space was freed
    analysis = tune.run(
        reporting,
        config={"x": tune.grid_search([1, 2, 3])},
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        resume=True,
        executor=executor,
    )
    assert set(ids) <= {t.trial_id for t in analysis.trials}
    assert len(analysis.trials) == 3
    assert all(t.status == "TERMINATED" for t in analysis.trials)
    assert sorted(t.last_result["score"] for t in analysis.trials) == [4, 8, 12]


def test_an_atomic_write_on_a_full_disk_names_the_path_and_leaves_no_temporary(
    tmp_path, monkeypatch
):
    target = tmp_path / "state.json"
    target.write_text("old")
    _fill(monkeypatch, room=0)
    with pytest.raises(StorageFullError, match=f"the disk holding {target} is full"):
        _files.write_json_atomic(str(target), {"a": 1})
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_disk_that_fills_mid_run_keeps_what_was_recorded(tmp_path, monkeypatch, executor):
    _fill(monkeypatch, room=12)
    with pytest.raises(StorageFullError):
        tune.run(
            reporting,
            config={"x": tune.grid_search([1, 2, 3, 4])},
            storage_path=str(tmp_path),
            name="exp",
            verbose=0,
            max_concurrent_trials=1,
            executor=executor,
        )
    exp = tmp_path / "exp"
    assert _tmp_files(exp) == []
    monkeypatch.undo()
    analysis = tune.run(
        reporting,
        config={"x": tune.grid_search([1, 2, 3, 4])},
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        resume=True,
        executor=executor,
    )
    assert sorted(t.last_result["score"] for t in analysis.trials) == [4, 8, 12, 16]
