"""What every executor must do, through ``tune.run``: one suite, run over each executor.

A new executor joins by adding itself to the ``executor`` fixture's parameters. The Dask
executor runs on a real cluster: a scheduler and worker subprocesses (see ``conftest.py``).
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time

import pytest

from overtone import tune
from overtone.executors import LocalExecutor


@pytest.fixture(params=["local", "dask"])
def executor(request):
    """Two CPUs and no GPUs, in both cases."""
    if request.param == "local":
        return LocalExecutor(num_cpus=2, num_gpus=0)
    from overtone.executors import DaskExecutor

    cluster = request.getfixturevalue("dask_cluster")
    return DaskExecutor(cluster.address)


def run(trainable, tmp_path, executor, **kwargs):
    kwargs.setdefault("raise_on_failed_trial", False)
    return tune.run(trainable, storage_path=str(tmp_path), verbose=0, executor=executor, **kwargs)


def rows(trial) -> list[dict]:
    with open(os.path.join(trial.path, "result.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def iterations(trial) -> list[int]:
    return [r["training_iteration"] for r in rows(trial)]


def error_text(trial) -> str:
    with open(os.path.join(trial.path, "error.txt"), encoding="utf-8") as f:
        return f.read()


# -- trainables (module level: workers import them) --------------------------------------
def reports_context(config):
    ctx = tune.get_context()
    for i in range(3):
        tune.report(
            step=i,
            x=config["x"],
            trial_id=ctx.get_trial_id(),
            trial_dir=ctx.get_trial_dir(),
            resources=ctx.get_trial_resources(),
            cuda=os.environ.get("CUDA_VISIBLE_DEVICES"),
        )


def waits_for_the_driver(config):
    trial_id = tune.get_context().get_trial_id()
    for i in range(1, 4):
        tune.report(step=i)
        seen = os.path.join(config["dir"], f"seen-{trial_id}-{i}")
        deadline = time.time() + 30
        while not os.path.exists(seen):
            if time.time() > deadline:
                raise RuntimeError(f"result {i} did not reach the driver while the trial ran")
            time.sleep(0.005)


class MarksResults(tune.Callback):
    """In the driver: marks each result as received, for the trial to see."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def on_trial_result(self, iteration, trials, trial, result, **info):
        path = os.path.join(self.directory, f"seen-{trial.trial_id}-{result['step']}")
        open(path, "w").close()


def counts_forever(config):
    for i in range(10_000):
        tune.report(i=i)
        time.sleep(0.01)


def reports_then_sleeps(config):
    tune.report(i=0)
    time.sleep(120)


def checkpointed(config):
    """Counts to config["steps"], checkpointing every step and resuming from the last."""
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with open(os.path.join(ckpt.path, "state.json")) as f:
            start = json.load(f)["step"]
    for step in range(start + 1, config["steps"] + 1):
        time.sleep(config.get("sleep", 0))
        if step == config.get("crash_at") and start == 0:
            os._exit(3)  # only in the first run: the restart goes past it
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report(
                {"step": step, "resumed_from": start}, checkpoint=tune.Checkpoint.from_directory(d)
            )


class PausesOnce(tune.schedulers.TrialScheduler):
    """Pauses every trial once, at its second result."""

    def __init__(self) -> None:
        super().__init__()
        self.paused: set[str] = set()

    def on_trial_result(self, trial, result):
        if result["training_iteration"] == 2 and trial.trial_id not in self.paused:
            self.paused.add(trial.trial_id)
            return self.PAUSE
        return self.CONTINUE


class PausesAllThenResumes(PausesOnce):
    """Pauses every trial at its second result and resumes none until all are paused, so
    that the trials still to come can only run on the paused trials' resources."""

    def __init__(self, num_trials: int) -> None:
        super().__init__()
        self.num_trials = num_trials

    def choose_trial_to_run(self, candidates):
        for c in candidates:
            if c.trial_id not in self.paused:
                return c
        return candidates[0] if len(self.paused) == self.num_trials else None


def fails(config):
    tune.report(loss=1.0)
    mode = config["mode"]
    if mode == "raise":
        raise ValueError("bad hyperparameter 42")
    if mode == "exit":
        os._exit(3)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    tune.report(loss=0.5)


def holds_a_cpu(config):
    start = time.time()
    time.sleep(0.5)
    tune.report(start=start, end=time.time(), resources=tune.get_context().get_trial_resources())


class CountsUnpickling:
    """Data for with_parameters that notes, in a file, each process that unpickles it."""

    def __init__(self, directory: str, size: int) -> None:
        self.directory = directory
        self.payload = b"x" * size

    def __getstate__(self):
        return {"directory": self.directory, "payload": self.payload}

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(os.path.join(self.directory, "unpickled.txt"), "a") as f:
            f.write(f"{os.getpid()}\n")


def uses_data(config, data=None):
    tune.report(size=len(data.payload), x=config["x"])


class Counter(tune.Trainable):
    def setup(self, config):
        self.count = 0

    def step(self):
        self.count += 1
        return {"count": self.count, "done": self.count >= 4}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "count.txt"), "w") as f:
            f.write(str(self.count))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "count.txt")) as f:
            self.count = int(f.read())


def prints(config):
    print(f"hello from trial {config['x']}", flush=True)
    tune.report(x=config["x"])


# -- the suite --------------------------------------------------------------------------
def test_trials_run_and_report(tmp_path, executor):
    analysis = run(reports_context, tmp_path, executor, config={"x": tune.grid_search([1, 2])})
    assert sorted(str(t.status) for t in analysis.trials) == ["TERMINATED", "TERMINATED"]
    for trial in analysis.trials:
        assert iterations(trial) == [1, 2, 3]
        last = trial.last_result
        assert last["trial_id"] == trial.trial_id
        assert last["x"] == trial.config["x"]
        assert os.path.samefile(last["trial_dir"], trial.path)
        assert last["resources"]["cpu"] == 1
        assert last["cuda"] == ""  # asked for no GPU: sees none


def test_results_stream_back_while_the_trial_runs(tmp_path, executor):
    analysis = run(
        waits_for_the_driver,
        tmp_path,
        executor,
        config={"dir": str(tmp_path), "t": tune.grid_search([0, 1])},
        callbacks=[MarksResults(str(tmp_path))],
    )
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED", error_text(trial)
        assert iterations(trial) == [1, 2, 3]


def test_a_stop_decision_reaches_the_trial_promptly(tmp_path, executor):
    start = time.time()
    analysis = run(
        counts_forever,
        tmp_path,
        executor,
        stop={"training_iteration": 5},
        config={"t": tune.grid_search([0, 1])},
    )
    assert time.time() - start < 30
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED"
        assert iterations(trial) == [1, 2, 3, 4, 5]


def test_a_trial_is_killed_without_waiting_for_its_next_result(tmp_path, executor):
    start = time.time()
    # The budget leaves a loaded machine time to start the trial (a Dask slot's first start
    # takes seconds there); the trial then sleeps far longer than it.
    analysis = run(reports_then_sleeps, tmp_path, executor, time_budget_s=6)
    assert time.time() - start < 30  # the trial sleeps 120 s
    (trial,) = analysis.trials
    assert str(trial.status) == "TERMINATED"
    assert iterations(trial) == [1]


def test_pause_and_resume_from_the_checkpoint(tmp_path, executor):
    analysis = run(
        checkpointed,
        tmp_path,
        executor,
        scheduler=PausesOnce(),
        config={"steps": 5, "t": tune.grid_search([0, 1])},
    )
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED"
        assert iterations(trial) == [1, 2, 3, 4, 5]
        assert [r["resumed_from"] for r in rows(trial)] == [0, 0, 2, 2, 2]


def test_a_paused_trial_gives_its_resources_back(tmp_path, executor):
    # Four trials on two CPUs: the third and fourth can start only on paused trials' CPUs.
    analysis = run(
        checkpointed,
        tmp_path,
        executor,
        scheduler=PausesAllThenResumes(num_trials=4),
        resources_per_trial={"cpu": 1},
        config={"steps": 4, "t": tune.grid_search(list(range(4)))},
    )
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED"
        assert iterations(trial) == [1, 2, 3, 4]
        assert [r["resumed_from"] for r in rows(trial)] == [0, 0, 2, 2]


def test_a_crash_ends_only_its_trial(tmp_path, executor):
    analysis = run(
        fails,
        tmp_path,
        executor,
        config={"mode": tune.grid_search(["ok", "raise", "exit", "kill", "ok"])},
    )
    by_mode: dict[str, list] = {}
    for t in analysis.trials:
        by_mode.setdefault(t.config["mode"], []).append(t)
    assert [str(t.status) for t in by_mode["ok"]] == ["TERMINATED", "TERMINATED"]
    assert all(t.last_result["loss"] == 0.5 for t in by_mode["ok"])
    for mode, text in [
        ("raise", "bad hyperparameter 42"),
        ("exit", "exited with code 3"),
        ("kill", "SIGKILL"),
    ]:
        (trial,) = by_mode[mode]
        assert str(trial.status) == "ERROR"
        assert text in error_text(trial)
        assert iterations(trial) == [1]  # the result before the crash is kept


def test_a_crashed_trial_restarts_from_its_latest_checkpoint(tmp_path, executor):
    analysis = run(
        checkpointed, tmp_path, executor, max_failures=1, config={"steps": 6, "crash_at": 4}
    )
    (trial,) = analysis.trials
    assert str(trial.status) == "TERMINATED"
    assert trial.num_failures == 1
    assert iterations(trial) == [1, 2, 3, 4, 5, 6]  # each result exactly once
    assert [r["resumed_from"] for r in rows(trial)] == [0, 0, 0, 3, 3, 3]


def test_resources_limit_how_many_trials_run_at_once(tmp_path, executor):
    analysis = run(
        holds_a_cpu,
        tmp_path,
        executor,
        resources_per_trial={"cpu": 1},
        config={"t": tune.grid_search(list(range(4)))},
    )
    spans = []
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED"
        assert trial.last_result["resources"]["cpu"] == 1
        spans.append((trial.last_result["start"], trial.last_result["end"]))
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2  # two CPUs: two at once, never three


def test_a_trial_asking_for_more_than_there_is_is_refused(tmp_path, executor):
    with pytest.raises(ValueError, match="more than the executor has"):
        run(holds_a_cpu, tmp_path, executor, resources_per_trial={"cpu": 3})
    assert not list(tmp_path.glob("*/*/result.json"))


def test_with_parameters_data_reaches_each_process_once(tmp_path, executor):
    data = CountsUnpickling(str(tmp_path), size=2_000_000)
    analysis = run(
        tune.with_parameters(uses_data, data=data),
        tmp_path,
        executor,
        config={"x": tune.grid_search(list(range(6)))},
    )
    assert [t.last_result["size"] for t in analysis.trials] == [2_000_000] * 6
    pids = (tmp_path / "unpickled.txt").read_text().split()
    assert len(pids) == len(set(pids)) <= 6  # no process unpickled it twice


def test_class_trainables_checkpoint_and_stop(tmp_path, executor):
    analysis = run(
        Counter, tmp_path, executor, checkpoint_freq=2, config={"t": tune.grid_search([0, 1])}
    )
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED"
        assert iterations(trial) == [1, 2, 3, 4]
        assert os.path.isdir(os.path.join(trial.path, "checkpoint_000004"))


def test_trial_output_goes_to_its_log_files(tmp_path, executor):
    analysis = run(
        prints, tmp_path, executor, log_to_file=True, config={"x": tune.grid_search([7, 8])}
    )
    for trial in analysis.trials:
        with open(os.path.join(trial.path, "stdout")) as f:
            assert f"hello from trial {trial.config['x']}" in f.read()
