"""Workers never outlive their driver (issue 13, item 5): killed with SIGKILL, the driver's
workers end at once; SIGTERM stops the experiment as Ctrl-C does (state written, workers
stopped), then ends the process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import os, sys, time
from overtone import tune

def forever(config):
    open(os.path.join(config["pids"], f"{os.getpid()}.pid"), "w").close()
    time.sleep(3600)  # never reports

config = {"x": tune.grid_search([0, 1]), "pids": sys.argv[2]}
tune.run(forever, name="exp", storage_path=sys.argv[1], config=config, verbose=0,
         resources_per_trial={"cpu": 1},
         executor=__import__("overtone").executors.LocalExecutor(num_cpus=2, num_gpus=0))
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    script = tmp_path / "driver.py"
    script.write_text(SCRIPT)
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    log = open(tmp_path / "driver.log", "wb")  # a file: a lingering worker holds no pipe
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "store"), str(pids_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 60
    while len(os.listdir(pids_dir)) < 2:
        assert proc.poll() is None, (tmp_path / "driver.log").read_text()
        assert time.monotonic() < deadline, "the trials did not start"
        time.sleep(0.05)
    return proc, [int(name.split(".")[0]) for name in os.listdir(pids_dir)]


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _cleanup(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_workers_end_at_once_when_the_driver_is_killed(tmp_path):
    proc, pids = _start(tmp_path)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert _gone_within(pids, 2.0) == []
    finally:
        _cleanup(pids)


def test_sigterm_stops_the_experiment_cleanly(tmp_path):
    proc, pids = _start(tmp_path)
    try:
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log = (tmp_path / "driver.log").read_text()
        assert code == -signal.SIGTERM, log  # it still ends as SIGTERM says
        assert "Experiment interrupted" in log, log
        assert _gone_within(pids, 2.0) == []
    finally:
        _cleanup(pids)
    state = json.loads((tmp_path / "store" / "exp" / "experiment_state.json").read_text())
    assert state["interrupted"] is True
    assert len(state["trials"]) == 2
    # And it resumes: both trials are there to continue.
    from overtone._state import ResumeMode, restore_experiment

    restored = restore_experiment(str(tmp_path / "store" / "exp"), ResumeMode())
    assert sorted(t.status.value for t in restored.trials) == ["PENDING", "PENDING"]
