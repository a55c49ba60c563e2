"""Faults around the experiment folder: two runs of one experiment, names that leave the
storage path, and a damaged tuner.pkl."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from overtone import tune
from overtone._errors import TuneError
from overtone.storage._lock import ExperimentLockedError, lock_experiment

SCRIPT = """
import sys, time
from overtone import tune

def slow(config):
    open(config["marker"], "w").close()
    time.sleep(config["sleep"])
    tune.report(x=1)

config = {"marker": sys.argv[2], "sleep": float(sys.argv[3])}
tune.run(slow, name="exp", storage_path=sys.argv[1], config=config, verbose=0)
print("FIRST DONE")
"""


def quick(config):
    tune.report(x=config.get("x", 0))


def _start_first(tmp_path, sleep: float) -> subprocess.Popen[str]:
    script = tmp_path / "first.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "started"
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "store"), str(marker), str(sleep)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, (tmp_path / "first.log").read_text()
        assert time.monotonic() < deadline, "the first run did not start its trial"
        time.sleep(0.05)
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()  # its workers end with it (tests/hostile/test_driver_death.py)
    proc.wait()


def test_a_second_run_of_a_running_experiment_is_refused_naming_the_first(tmp_path, executor):
    first = _start_first(tmp_path, sleep=4.0)
    try:
        with pytest.raises(TuneError) as info:
            tune.run(quick, name="exp", storage_path=str(tmp_path / "store"), verbose=0)
        message = str(info.value)
        assert f"process {first.pid}" in message and socket.gethostname() in message, message
        assert "resume" in message
        first.wait(timeout=60)
        out = (tmp_path / "first.log").read_text()
        assert first.returncode == 0 and "FIRST DONE" in out, out
    finally:
        _kill(first)
    # Once the first run ended, the experiment can be resumed.
    analysis = tune.run(
        quick, name="exp", storage_path=str(tmp_path / "store"), verbose=0, resume=True
    )
    assert len(analysis.trials) == 1 and analysis.trials[0].status == "TERMINATED"


def test_a_run_killed_with_sigkill_leaves_no_stale_lock(tmp_path, executor):
    first = _start_first(tmp_path, sleep=60.0)
    try:
        first.send_signal(signal.SIGKILL)  # the driver only: its workers end with it
        first.wait(timeout=30)
        analysis = tune.run(
            quick, name="exp", storage_path=str(tmp_path / "store"), verbose=0, executor=executor
        )
    finally:
        _kill(first)
    assert analysis.trials[0].last_result["x"] == 0


def test_the_remote_lock_object_refuses_a_second_holder(tmp_path):
    pytest.importorskip("fsspec")
    uri = f"memory://overtone-lock-test/{os.urandom(4).hex()}/exp"
    lock = lock_experiment(str(tmp_path / "a"), uri)
    errors: list[BaseException] = []

    def other_run():  # another thread: as another process would, it must be refused
        try:
            lock_experiment(str(tmp_path / "b"), uri).release()
        except ExperimentLockedError as exc:
            errors.append(exc)

    t = threading.Thread(target=other_run)
    t.start()
    t.join()
    assert len(errors) == 1 and f"process {os.getpid()}" in str(errors[0])
    lock.release()
    lock_experiment(str(tmp_path / "b"), uri).release()  # free once released


@pytest.mark.parametrize("name", ["..", ".", "../escaped", "/tmp/abs", "a\0b"])
def test_a_name_that_leaves_the_storage_path_is_refused(tmp_path, name, executor):
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(ValueError, match="must be a folder name inside the storage path"):
        tune.run(quick, name=name, storage_path=str(store), verbose=0, executor=executor)
    with pytest.raises(ValueError, match="must be a folder name inside the storage path"):
        tune.Tuner(quick, run_config=tune.RunConfig(name=name, storage_path=str(store))).fit()
    assert sorted(os.listdir(tmp_path)) == ["store"]
    assert os.listdir(store) == []


def test_a_damaged_tuner_pkl_names_the_file_and_what_to_do(tmp_path, executor):
    tuner = tune.Tuner(
        quick,
        param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(
            name="exp", storage_path=str(tmp_path), verbose=0, executor=executor
        ),
    )
    tuner.fit()
    path = tmp_path / "exp"
    (path / "tuner.pkl").write_bytes(b"\x80\x05garbage, not a pickle")
    with pytest.raises(TuneError) as info:
        tune.Tuner.restore(str(path), quick)
    message = str(info.value)
    assert str(path / "tuner.pkl") in message and "move it away" in message, message
    # What the message says to do works: the finished trials are all there.
    (path / "tuner.pkl").rename(tmp_path / "tuner.pkl.damaged")
    results = tune.Tuner.restore(
        str(path), quick, param_space={"x": tune.grid_search([1, 2])}
    ).fit()
    assert sorted(r.metrics["x"] for r in results) == [1, 2]
