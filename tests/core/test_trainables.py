"""Function and class trainables, context, checkpoints, with_parameters, with_resources."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from overtone import tune


class Counter(tune.Trainable):
    def setup(self, config):
        self.value = config["start"]
        self.log = os.path.join(config["dir"], f"events-{config['start']}.txt")
        self._event("setup")

    def _event(self, name):
        with open(self.log, "a") as f:
            f.write(name + "\n")

    def step(self):
        self.value += 1
        return {"value": self.value, "done": self.value >= self.config["start"] + 4}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json"), "w") as f:
            json.dump({"value": self.value}, f)

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json")) as f:
            self.value = json.load(f)["value"]

    def cleanup(self):
        self._event("cleanup")


def test_class_trainable_runs_until_done(tmp_path, executor):
    grid = tune.Tuner(
        Counter,
        param_space={"start": tune.grid_search([0, 10]), "dir": str(tmp_path)},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    ).fit()
    assert sorted(r.metrics["value"] for r in grid) == [4, 14]
    assert all(r.metrics["training_iteration"] == 4 for r in grid)
    for start in (0, 10):
        assert open(tmp_path / f"events-{start}.txt").read().split() == ["setup", "cleanup"]


def test_class_trainable_stopped_by_criteria_cleans_up(tmp_path, executor):
    analysis = tune.run(Counter, config={"start": 100, "dir": str(tmp_path)},
                        stop={"training_iteration": 2}, storage_path=str(tmp_path), verbose=0,
                        executor=executor)
    assert analysis.trials[0].last_result["value"] == 102
    assert open(tmp_path / "events-100.txt").read().split() == ["setup", "cleanup"]


def test_class_trainable_checkpoints_at_a_frequency(tmp_path, executor):
    grid = tune.Tuner(
        Counter,
        param_space={"start": 0, "dir": str(tmp_path)},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), verbose=0, executor=executor,
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2),
        ),
    ).fit()
    result = grid[0]
    assert result.checkpoint is not None
    assert os.path.basename(result.checkpoint.path) == "checkpoint_000004"
    with result.checkpoint.as_directory() as d:
        assert json.load(open(os.path.join(d, "state.json"))) == {"value": 4}
    names = sorted(p.name for p in __import__("pathlib").Path(result.path).iterdir()
                   if p.name.startswith("checkpoint_"))
    assert names == ["checkpoint_000002", "checkpoint_000004"]


def with_checkpoint(config):
    import tempfile

    for i in range(3):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "step.txt"), "w") as f:
                f.write(str(i))
            tune.report({"i": i}, checkpoint=tune.Checkpoint.from_directory(d))


def test_function_checkpoints_reach_the_trial_dir(tmp_path, executor):
    grid = tune.Tuner(with_checkpoint, run_config=tune.RunConfig(
        storage_path=str(tmp_path), verbose=0, executor=executor)).fit()
    ckpt = grid[0].checkpoint
    assert open(os.path.join(ckpt.path, "step.txt")).read() == "2"
    assert ckpt.path.startswith(grid[0].path)


def reports_context(config):
    ctx = tune.get_context()
    tune.report(trial_id=ctx.get_trial_id(), name=ctx.get_trial_name(),
                trial_dir=ctx.get_trial_dir(), iteration_before=ctx.get_iteration(),
                cuda=os.environ.get("CUDA_VISIBLE_DEVICES"))
    tune.report(iteration_before=tune.get_context().get_iteration())


def test_context_describes_the_trial(tmp_path, executor):
    analysis = tune.run(reports_context, storage_path=str(tmp_path), verbose=0,
                        executor=executor)
    (trial,) = analysis.trials
    lines = [json.loads(x) for x in open(os.path.join(trial.path, "result.json"))]
    assert lines[0]["trial_id"] == trial.trial_id
    assert lines[0]["name"] == trial.trial_name
    assert os.path.samefile(lines[0]["trial_dir"], trial.path)
    assert [x["iteration_before"] for x in lines] == [0, 1]
    assert lines[0]["cuda"] == ""  # a trial without GPUs sees none


class Big:
    """Records, in a file, every process that unpickles it."""

    def __init__(self, log):
        self.log = log
        self.payload = b"x" * 1_000_000

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(self.log, "a") as f:
            f.write(f"{os.getpid()}\n")


def uses_data(config, data=None):
    tune.report(size=len(data.payload), pid=os.getpid())


def test_with_parameters_ships_data_once_per_worker(tmp_path, executor):
    log = str(tmp_path / "unpickled.txt")
    analysis = tune.run(
        tune.with_parameters(uses_data, data=Big(log)),
        config={"i": tune.grid_search(list(range(8)))},
        storage_path=str(tmp_path), verbose=0, executor=executor,
    )
    assert all(t.last_result["size"] == 1_000_000 for t in analysis.trials)
    loaders = open(log).read().split()
    workers = {t.last_result["pid"] for t in analysis.trials}
    assert len(loaders) == len(workers) <= 2  # once per worker process, not per trial
    assert set(map(int, loaders)) == workers


def test_with_parameters_rejects_unknown_names():
    with pytest.raises(ValueError, match="nope"):
        tune.with_parameters(uses_data, nope=1)


class WithData(tune.Trainable):
    def setup(self, config, data=None):
        self.n = len(data)

    def step(self):
        return {"n": self.n, "done": True}


def test_with_parameters_on_a_class(tmp_path, executor):
    analysis = tune.run(tune.with_parameters(WithData, data=[1, 2, 3]),
                        storage_path=str(tmp_path), verbose=0, executor=executor)
    assert analysis.trials[0].last_result["n"] == 3


def pid_reporter(config):
    tune.report(pid=os.getpid(), cuda=os.environ.get("CUDA_VISIBLE_DEVICES"))


def test_workers_are_reused_between_trials(tmp_path, executor):
    analysis = tune.run(pid_reporter, config={"i": tune.grid_search(list(range(10)))},
                        storage_path=str(tmp_path), verbose=0, executor=executor)
    pids = {t.last_result["pid"] for t in analysis.trials}
    assert len(pids) <= 2 and os.getpid() not in pids


def test_gpu_trials_see_only_their_own_devices(tmp_path):
    analysis = tune.run(
        tune.with_resources(pid_reporter, {"cpu": 0.5, "gpu": 1}),
        config={"i": tune.grid_search(list(range(6)))},
        storage_path=str(tmp_path), verbose=0,
        executor=tune.LocalExecutor(num_cpus=4, num_gpus=3),
    )
    devices = [t.last_result["cuda"] for t in analysis.trials]
    assert set(devices) <= {"0", "1", "2"} and len(set(devices)) >= 2
    assert all("," not in d for d in devices)


def sleepy(config):
    import time

    start = time.time()
    time.sleep(0.3)
    tune.report(start=start, end=time.time())


def test_resources_bound_concurrency(tmp_path):
    analysis = tune.run(
        sleepy, config={"i": tune.grid_search(list(range(4)))},
        resources_per_trial={"cpu": 1, "gpu": 1},
        storage_path=str(tmp_path), verbose=0,
        executor=tune.LocalExecutor(num_cpus=4, num_gpus=1),
    )
    spans = sorted((t.last_result["start"], t.last_result["end"]) for t in analysis.trials)
    for (s1, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 >= e1 - 0.01  # one GPU: never two trials at once


def test_max_concurrent_trials_caps_parallelism(tmp_path, executor):
    analysis = tune.run(sleepy, config={"i": tune.grid_search(list(range(3)))},
                        max_concurrent_trials=1, storage_path=str(tmp_path), verbose=0,
                        executor=executor)
    spans = sorted((t.last_result["start"], t.last_result["end"]) for t in analysis.trials)
    for (s1, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 >= e1 - 0.01


def test_checkpoint_object_round_trip(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    (d / "f.txt").write_text("hi")
    ckpt = tune.Checkpoint.from_directory(str(d))
    out = ckpt.to_directory(str(tmp_path / "copy"))
    assert open(os.path.join(out, "f.txt")).read() == "hi"
    assert pickle.loads(pickle.dumps(ckpt)) == ckpt
    with pytest.raises(ValueError, match="not a directory"):
        tune.Checkpoint.from_directory(str(tmp_path / "missing"))
