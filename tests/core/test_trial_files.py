"""Who makes a trial's folder and files: the worker, so that the driver only appends.

Creating a file costs this kind of VM's ext4 0.02-0.75 ms of system time, which the
driver's event loop would pay five times per trial. The worker makes the folder, writes
``params.json`` and creates the empty files the driver appends to before the trainable
runs; the driver opens them at the trial's first result.
"""

from __future__ import annotations

import json
import os

import pytest

from overtone import tune
from overtone.logger import _tfevents
from overtone.runtime._runner import TrialDirs
from overtone.runtime._session import TrialInfo
from overtone.storage import _files, _journal
from overtone.storage._layout import SPARE_PREFIX


def _info(tmp_path, **kwargs) -> TrialInfo:
    return TrialInfo(
        trial_id="t1",
        trial_name="t1",
        trial_dir=str(tmp_path / "exp" / "trial_1"),
        experiment_name="exp",
        experiment_path=str(tmp_path / "exp"),
        config={"lr": 0.1, "net": {"depth": 3}},
        **kwargs,
    )


def test_the_worker_makes_the_folder_params_and_empty_files(tmp_path):
    info = _info(tmp_path, write_params=True, files=("result.json", "progress.csv"))
    TrialDirs().prepare(info)
    folder = tmp_path / "exp" / "trial_1"
    assert json.loads((folder / "params.json").read_text()) == info.config
    assert (folder / "result.json").read_bytes() == b""
    assert (folder / "progress.csv").read_bytes() == b""


def test_preparing_again_keeps_what_the_files_hold(tmp_path):
    """A restarted trial's worker prepares the same folder: the journal stays as it is."""
    info = _info(tmp_path, write_params=True, files=("result.json",))
    TrialDirs().prepare(info)
    journal = tmp_path / "exp" / "trial_1" / "result.json"
    journal.write_text('{"training_iteration": 1}\n')
    info.config = {"lr": 0.2}  # PBT may change the config between runs
    TrialDirs().prepare(info)
    assert journal.read_text() == '{"training_iteration": 1}\n'
    assert json.loads((tmp_path / "exp" / "trial_1" / "params.json").read_text()) == {"lr": 0.2}


@pytest.mark.parametrize("content", ["", '{"stale": 1}\n'])
def test_a_fresh_journal_is_emptied_only_when_it_holds_something(tmp_path, content):
    path = tmp_path / "result.json"
    path.write_text(content)
    fd = _journal._open_journal(str(path), fresh=True)
    _files.write_all(fd, b"new\n")
    os.close(fd)
    assert path.read_text() == "new\n"
    fd = _journal._open_journal(str(path), fresh=False)
    _files.write_all(fd, b"more\n")
    os.close(fd)
    assert path.read_text() == "new\nmore\n"


def test_the_driver_only_opens_files_the_worker_made(tmp_path, monkeypatch):
    """Every journal and event file exists before the driver opens it."""
    seen: list[tuple[str, bool]] = []
    open_journal = _journal._open_journal

    def watched_journal(path, fresh):
        seen.append((os.path.basename(path), os.path.exists(path)))
        return open_journal(path, fresh)

    event_file_init = _tfevents.EventFile.__init__

    def watched_event_file(self, logdir, filename_suffix="", name=None):
        seen.append(("events", name is not None and os.path.exists(os.path.join(logdir, name))))
        event_file_init(self, logdir, filename_suffix, name)

    monkeypatch.setattr(_journal, "_open_journal", watched_journal)
    monkeypatch.setattr(_tfevents.EventFile, "__init__", watched_event_file)

    def train(config):
        for i in range(3):
            tune.report({"loss": config["x"] / (i + 1)})

    analysis = tune.run(
        train,
        config={"x": tune.grid_search([1, 2, 3, 4])},
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        callbacks=[tune.logger.TBXLoggerCallback()],
    )
    assert len(analysis.trials) == 4
    names = sorted({name for name, _ in seen})
    assert names == ["events", "progress.csv", "result.json"]
    assert len(seen) == 12 and all(existed for _, existed in seen), seen
    for trial in analysis.trials:
        assert [
            r["training_iteration"]
            for r in analysis.trial_dataframes[trial.path].to_dict("records")
        ] == [1, 2, 3]
        events = [n for n in os.listdir(trial.path) if n.startswith("events.out.tfevents.")]
        assert len(events) == 1 and os.path.getsize(os.path.join(trial.path, events[0])) > 0


def test_a_trial_that_fails_before_reporting_still_has_its_files(tmp_path):
    def train(config):
        raise ValueError("bad config")

    analysis = tune.run(
        train,
        config={"x": 1},
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        raise_on_failed_trial=False,
    )
    (trial,) = analysis.trials
    files = set(os.listdir(trial.path))
    assert {"params.json", "result.json", "error.txt"} <= files
    assert json.loads(open(os.path.join(trial.path, "params.json")).read()) == {"x": 1}
    assert os.path.getsize(os.path.join(trial.path, "result.json")) == 0
    assert "bad config" in open(os.path.join(trial.path, "error.txt")).read()


class _WritesAtStart(tune.Callback):
    def __init__(self) -> None:
        self.written: list[str] = []

    def on_trial_start(self, iteration, trials, trial, **info):
        path = os.path.join(trial.path, "mine.txt")
        with open(path, "w") as f:  # a callback of the user's may write there at once
            f.write(trial.trial_id)
        self.written.append(path)


def test_a_users_callback_finds_the_trial_folder_made_at_start(tmp_path):
    callback = _WritesAtStart()
    tune.run(
        lambda config: tune.report({"loss": config["x"]}),
        config={"x": tune.grid_search([1, 2])},
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        callbacks=[callback],
    )
    assert len(callback.written) == 2
    assert all(os.path.exists(path) for path in callback.written)


# -- spare folders: the next trial's folder, made while the driver chooses that trial ------
EVENTS = "events.out.tfevents.0000000001.host.1.0"


def _spare_info(tmp_path, trial: str, experiment: str = "exp", **kwargs) -> TrialInfo:
    base = {"write_params": True, "files": ("result.json", EVENTS), "spare_dirs": True}
    return TrialInfo(
        trial_id=trial,
        trial_name=trial,
        trial_dir=str(tmp_path / experiment / trial),
        experiment_name=experiment,
        experiment_path=str(tmp_path / experiment),
        config={"trial": trial},
        **{**base, **kwargs},
    )


def _spares(path) -> list[str]:
    return [n for n in os.listdir(path) if n.startswith(SPARE_PREFIX)]


def test_the_next_trial_gets_the_spare_folder_renamed(tmp_path):
    dirs = TrialDirs()
    first = _spare_info(tmp_path, "t1")
    dirs.prepare(first)
    dirs.make_spare(first, lambda: False)
    (spare,) = _spares(tmp_path / "exp")
    inode = os.stat(tmp_path / "exp" / spare).st_ino
    second = _spare_info(tmp_path, "t2", files=("result.json", EVENTS.replace(".0", ".7")))
    dirs.prepare(second)
    folder = tmp_path / "exp" / "t2"
    assert os.stat(folder).st_ino == inode  # the spare itself, renamed
    assert sorted(os.listdir(folder)) == sorted(["params.json", "result.json", second.files[1]])
    assert json.loads((folder / "params.json").read_text()) == {"trial": "t2"}
    assert _spares(tmp_path / "exp") == []


def test_a_spare_cut_short_is_completed_when_used(tmp_path):
    dirs = TrialDirs()
    first = _spare_info(tmp_path, "t1")
    dirs.prepare(first)
    calls = iter([False, False, True])  # the next trial arrives after one file is made
    dirs.make_spare(first, lambda: next(calls))
    (spare,) = _spares(tmp_path / "exp")
    assert os.listdir(tmp_path / "exp" / spare) == ["params.json"]
    dirs.prepare(_spare_info(tmp_path, "t2"))
    assert sorted(os.listdir(tmp_path / "exp" / "t2")) == sorted(
        [EVENTS, "params.json", "result.json"]
    )


def test_a_restarted_trial_keeps_its_folder_and_the_spare_waits(tmp_path):
    dirs = TrialDirs()
    first = _spare_info(tmp_path, "t1")
    dirs.prepare(first)
    (tmp_path / "exp" / "t1" / "result.json").write_text('{"training_iteration": 1}\n')
    dirs.make_spare(first, lambda: False)
    dirs.prepare(first)  # the same trial again, after a failure
    assert (tmp_path / "exp" / "t1" / "result.json").read_text() == '{"training_iteration": 1}\n'
    assert len(_spares(tmp_path / "exp")) == 1
    dirs.prepare(_spare_info(tmp_path, "t2", experiment="other"))  # another experiment
    assert _spares(tmp_path / "exp") == []


def test_no_spare_is_made_unless_allowed(tmp_path):
    dirs = TrialDirs()
    info = _spare_info(tmp_path, "t1", spare_dirs=False)
    dirs.prepare(info)
    dirs.make_spare(info, lambda: False)
    assert _spares(tmp_path / "exp") == []


def test_no_spare_folder_is_left_when_the_run_returns(tmp_path):
    analysis = tune.run(
        lambda config: tune.report({"loss": config["x"]}),
        config={"x": tune.uniform(0, 1)},
        num_samples=12,
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
    )
    assert len(analysis.trials) == 12
    assert _spares(tmp_path / "exp") == []


def test_spare_folders_left_by_killed_workers_are_removed_on_resume(tmp_path):
    def train(config):
        tune.report({"loss": config["x"]})

    kwargs = {"config": {"x": tune.grid_search([1, 2])}, "storage_path": str(tmp_path)}
    tune.run(train, name="exp", verbose=0, **kwargs)
    stale = tmp_path / "exp" / f"{SPARE_PREFIX}99999"
    stale.mkdir()
    (stale / "result.json").write_text("")
    analysis = tune.run(train, name="exp", verbose=0, resume="AUTO", **kwargs)
    assert len(analysis.trials) == 2
    assert _spares(tmp_path / "exp") == []
