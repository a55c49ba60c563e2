"""Real failures of a real Dask cluster: a worker killed with SIGKILL, a worker sent SIGTERM,
the scheduler gone, and a storage path that the workers cannot see. Each test has its own
cluster, since each breaks it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from overtone import tune
from overtone.executors import LocalExecutor

pytest.importorskip("distributed", reason="needs: pip install 'overtone[dask]'")

from dask_procs import DaskCluster  # noqa: E402

from overtone.executors import DaskExecutor  # noqa: E402

STEPS = 12


@pytest.fixture
def cluster():
    """A scheduler and 2 workers of 1 CPU each, all to be broken by the test."""
    cluster = DaskCluster()
    try:
        cluster.add_worker("CPU=1")
        cluster.add_worker("CPU=1")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()


def checkpointed(config):
    """Counts to config["steps"], checkpointing every step and resuming from the last one;
    notes every step it executes, to see how much work a failure repeats."""
    trial_id = tune.get_context().get_trial_id()
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with open(os.path.join(ckpt.path, "state.json")) as f:
            start = json.load(f)["step"]
    for step in range(start + 1, config["steps"] + 1):
        time.sleep(config["sleep"])
        with open(os.path.join(config["dir"], f"executed-{trial_id}.txt"), "a") as f:
            f.write(f"{step}\n")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report(
                {"step": step, "resumed_from": start}, checkpoint=tune.Checkpoint.from_directory(d)
            )


class OnStep(tune.Callback):
    """In the driver: calls ``action(result)`` once, when a trial reports step ``step``."""

    def __init__(self, step, action):
        self.step, self.action, self.fired = step, action, False

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not self.fired and result["step"] == self.step:
            self.fired = True
            self.action(result)


def rows(trial) -> list[dict]:
    with open(os.path.join(trial.path, "result.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def assert_every_result_once(analysis, steps=STEPS):
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED", trial.error_file
        assert [r["training_iteration"] for r in rows(trial)] == list(range(1, steps + 1))
        assert [r["step"] for r in rows(trial)] == list(range(1, steps + 1))


def failed_trial(analysis):
    (trial,) = [t for t in analysis.trials if t.num_failures]
    assert trial.num_failures == 1
    with open(os.path.join(trial.path, "error.txt"), encoding="utf-8") as f:
        return trial, f.read()


def executed(tmp_path, trial) -> list[int]:
    return [int(x) for x in (tmp_path / f"executed-{trial.trial_id}.txt").read_text().split()]


def worker_session(result) -> int:
    """The session of the worker running a trial: its ``dask worker`` process, the nanny."""
    return os.getsid(result["pid"])


def experiment(tmp_path, executor, callback, **kwargs):
    return tune.run(
        checkpointed,
        name="exp",
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        callbacks=[callback],
        max_failures=2,
        config={"steps": STEPS, "sleep": 0.1, "dir": str(tmp_path), "t": tune.grid_search([0, 1])},
        **kwargs,
    )


def test_a_worker_killed_mid_trial_costs_nothing_reported(tmp_path, cluster):
    def kill_the_machine(result):  # the nanny, the worker and the trial process at once
        os.killpg(worker_session(result), signal.SIGKILL)

    analysis = experiment(tmp_path, DaskExecutor(cluster.address), OnStep(4, kill_the_machine))
    assert_every_result_once(analysis)
    trial, error = failed_trial(analysis)
    assert "lost on Dask worker" in error
    resumed = {r["resumed_from"] for r in rows(trial)}
    assert max(resumed) >= 3  # it restarted from a checkpoint, not from scratch


def test_a_worker_sent_sigterm_lets_its_trial_checkpoint_and_move(tmp_path, cluster):
    def preempt(result):  # what Kubernetes or a spot instance does: SIGTERM to the worker
        os.kill(worker_session(result), signal.SIGTERM)

    start = time.monotonic()
    analysis = experiment(
        tmp_path, DaskExecutor(cluster.address, grace_period=5), OnStep(4, preempt)
    )
    assert_every_result_once(analysis)
    trial, error = failed_trial(analysis)
    assert "shutting down" in error and "stopped right after saving checkpoint_" in error
    # It stopped at a checkpoint, so at most the step in flight is done twice.
    steps = executed(tmp_path, trial)
    assert sorted(set(steps)) == list(range(1, STEPS + 1))
    assert len(steps) - STEPS <= 1, steps
    assert time.monotonic() - start < 60


def test_losing_the_scheduler_fails_clearly_and_the_experiment_resumes(tmp_path, cluster):
    def kill_the_scheduler(result):
        os.killpg(cluster.scheduler.pid, signal.SIGKILL)

    executor = DaskExecutor(cluster.address, reconnect_timeout=2)
    with pytest.raises(tune.TuneError, match="lost the connection to the Dask scheduler"):
        experiment(tmp_path, executor, OnStep(3, kill_the_scheduler))
    state = json.loads((tmp_path / "exp" / "experiment_state.json").read_text())
    assert all(t["status"] != "ERROR" for t in state["trials"])
    # The experiment resumes anywhere, here on this machine, from its checkpoints.
    analysis = experiment(
        tmp_path, LocalExecutor(num_cpus=2, num_gpus=0), OnStep(-1, print), resume=True
    )
    assert_every_result_once(analysis)
    # The trial that reached step 3 resumes from its checkpoint of step 2 or later; the other
    # one may lag behind it by a step or two on a loaded machine, but resumes too.
    resumed = sorted(max(r["resumed_from"] for r in rows(t)) for t in analysis.trials)
    assert resumed[-1] >= 2 and resumed[0] >= 1, resumed


def _can_unshare() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs root and unshare --mount")
def test_a_storage_path_the_workers_cannot_see_is_refused_before_any_trial(tmp_path):
    # The worker gets its own mount namespace, where an empty tmpfs hides the storage path:
    # a machine that does not share this file system.
    storage = tmp_path / "storage"
    storage.mkdir()
    hide = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t tmpfs tmpfs "$0" && exec "$@"',
        str(storage),
    ]
    cluster = DaskCluster()
    try:
        cluster.add_worker("CPU=1", prefix=hide)
        cluster.wait_for_workers(1)
        with pytest.raises(ValueError, match="local path that the Dask workers cannot reach"):
            tune.run(
                checkpointed,
                name="exp",
                storage_path=str(storage),
                verbose=0,
                executor=DaskExecutor(cluster.address),
                config={"steps": 2, "sleep": 0, "dir": str(tmp_path)},
            )
    finally:
        cluster.close()
    # The controller made the trial's directory, but no trial ran.
    assert all(not p.read_text() for p in storage.glob("exp/*/result.json"))
    assert not list(tmp_path.glob("executed-*"))
