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
    analysis = tune.run(
        Counter,
        config={"start": 100, "dir": str(tmp_path)},
        stop={"training_iteration": 2},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert analysis.trials[0].last_result["value"] == 102
    assert open(tmp_path / "events-100.txt").read().split() == ["setup", "cleanup"]


def test_class_trainable_checkpoints_at_a_frequency(tmp_path, executor):
    grid = tune.Tuner(
        Counter,
        param_space={"start": 0, "dir": str(tmp_path)},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2),
        ),
    ).fit()
    result = grid[0]
    assert result.checkpoint is not None
    assert os.path.basename(result.checkpoint.path) == "checkpoint_000004"
    with result.checkpoint.as_directory() as d:
        assert json.load(open(os.path.join(d, "state.json"))) == {"value": 4}
    names = sorted(
        p.name
        for p in __import__("pathlib").Path(result.path).iterdir()
        if p.name.startswith("checkpoint_")
    )
    assert names == ["checkpoint_000002", "checkpoint_000004"]


def with_checkpoint(config):
    import tempfile

    for i in range(3):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "step.txt"), "w") as f:
                f.write(str(i))
            tune.report({"i": i}, checkpoint=tune.Checkpoint.from_directory(d))


def test_function_checkpoints_reach_the_trial_dir(tmp_path, executor):
    grid = tune.Tuner(
        with_checkpoint,
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    ).fit()
    ckpt = grid[0].checkpoint
    assert open(os.path.join(ckpt.path, "step.txt")).read() == "2"
    assert ckpt.path.startswith(grid[0].path)


def reports_context(config):
    ctx = tune.get_context()
    tune.report(
        trial_id=ctx.get_trial_id(),
        name=ctx.get_trial_name(),
        trial_dir=ctx.get_trial_dir(),
        iteration_before=ctx.get_iteration(),
        cuda=os.environ.get("CUDA_VISIBLE_DEVICES"),
    )
    tune.report(iteration_before=tune.get_context().get_iteration())


def test_context_describes_the_trial(tmp_path, executor):
    analysis = tune.run(reports_context, storage_path=str(tmp_path), verbose=0, executor=executor)
    (trial,) = analysis.trials
    lines = [json.loads(x) for x in open(os.path.join(trial.path, "result.json"))]
    assert lines[0]["trial_id"] == trial.trial_id
    assert lines[0]["name"] == trial.trial_name
    assert os.path.samefile(lines[0]["trial_dir"], trial.path)
    assert [x["iteration_before"] for x in lines] == [0, 1]
    assert lines[0]["cuda"] == ""  # a trial without GPUs sees none


def reports_current_trial(config):
    from overtone.runtime import current_trial, on_trial_exit

    facts = current_trial()
    marker = os.path.join(facts.trial_dir, "exited")
    registered = on_trial_exit(lambda: open(marker, "w").close())
    tune.report(
        registered=registered,
        facts=[facts.trial_id, facts.trial_name, facts.experiment_name, facts.trial_dir],
    )


def test_current_trial_names_the_trial_and_on_trial_exit_runs_at_its_end(tmp_path):
    from overtone.runtime import current_trial, on_trial_exit

    assert current_trial() == current_trial().__class__()  # all None outside a trial
    assert on_trial_exit(lambda: None) is False
    analysis = tune.run(reports_current_trial, storage_path=str(tmp_path), name="cur", verbose=0)
    (trial,) = analysis.trials
    (line,) = [json.loads(x) for x in open(os.path.join(trial.path, "result.json"))]
    trial_id, trial_name, experiment_name, trial_dir = line["facts"]
    assert (trial_id, trial_name, experiment_name) == (trial.trial_id, trial.trial_name, "cur")
    assert os.path.samefile(trial_dir, trial.path)
    assert line["registered"] is True
    assert os.path.exists(os.path.join(trial.path, "exited"))


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
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
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
    analysis = tune.run(
        tune.with_parameters(WithData, data=[1, 2, 3]),
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert analysis.trials[0].last_result["n"] == 3


def pid_reporter(config):
    tune.report(pid=os.getpid(), cuda=os.environ.get("CUDA_VISIBLE_DEVICES"))


def test_workers_are_reused_between_trials(tmp_path, executor):
    analysis = tune.run(
        pid_reporter,
        config={"i": tune.grid_search(list(range(10)))},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    pids = {t.last_result["pid"] for t in analysis.trials}
    assert len(pids) <= 2 and os.getpid() not in pids


def test_gpu_trials_see_only_their_own_devices(tmp_path):
    analysis = tune.run(
        tune.with_resources(pid_reporter, {"cpu": 0.5, "gpu": 1}),
        config={"i": tune.grid_search(list(range(6)))},
        storage_path=str(tmp_path),
        verbose=0,
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
        sleepy,
        config={"i": tune.grid_search(list(range(4)))},
        resources_per_trial={"cpu": 1, "gpu": 1},
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=4, num_gpus=1),
    )
    spans = sorted((t.last_result["start"], t.last_result["end"]) for t in analysis.trials)
    for (_, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 >= e1 - 0.01  # one GPU: never two trials at once


def test_max_concurrent_trials_caps_parallelism(tmp_path, executor):
    analysis = tune.run(
        sleepy,
        config={"i": tune.grid_search(list(range(3)))},
        max_concurrent_trials=1,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    spans = sorted((t.last_result["start"], t.last_result["end"]) for t in analysis.trials)
    for (_, e1), (s2, _) in zip(spans, spans[1:]):
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


def scored_checkpoints(config):
    import tempfile

    scores = [5, 1, 9, 3, 7, 2]
    for score in scores:
        with tempfile.TemporaryDirectory() as d:
            tune.report({"score": score}, checkpoint=tune.Checkpoint.from_directory(d))


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("max", {"checkpoint_000003", "checkpoint_000005", "checkpoint_000006"}),
        ("min", {"checkpoint_000002", "checkpoint_000006"}),
    ],
)
def test_num_to_keep_keeps_the_best_by_score_and_the_latest(tmp_path, executor, order, expected):
    grid = tune.Tuner(
        scored_checkpoints,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute="score", checkpoint_score_order=order
            ),
        ),
    ).fit()
    on_disk = {p for p in os.listdir(grid[0].path) if p.startswith("checkpoint_")}
    # The best two by score (max: 9 at 3, 7 at 5; min: 1 at 2, 2 at 6), and the latest (6).
    assert on_disk == expected
    assert os.path.basename(grid[0].checkpoint.path) == "checkpoint_000006"


class Resettable(tune.Trainable):
    def setup(self, config):
        self.setups = getattr(self, "setups", 0) + 1
        self.resets = 0

    def step(self):
        return {"setups": self.setups, "resets": self.resets, "i": self.config["i"], "done": True}

    def reset_config(self, new_config):
        self.resets += 1
        return True


def test_reuse_actors_calls_reset_config_instead_of_setup(tmp_path):
    def run(reuse):
        return tune.Tuner(
            Resettable,
            param_space={"i": tune.grid_search(list(range(6)))},
            tune_config=tune.TuneConfig(reuse_actors=reuse, max_concurrent_trials=1),
            run_config=tune.RunConfig(
                storage_path=str(tmp_path),
                verbose=0,
                executor=tune.LocalExecutor(num_cpus=1, num_gpus=0),
            ),
        ).fit()

    reused = run(True)
    assert {r.metrics["setups"] for r in reused} == {1}
    assert sorted(r.metrics["resets"] for r in reused) == [0, 1, 2, 3, 4, 5]  # one object
    assert all(r.metrics["i"] == r.config["i"] for r in reused)  # it got each new config
    assert {r.metrics["resets"] for r in run(False)} == {0}


def chatty(config):
    print("to stdout", config["i"])
    import sys

    print("to stderr", config["i"], file=sys.stderr)
    tune.report(x=1)


@pytest.mark.parametrize("setting", [True, "both.log", ("out.txt", "err.txt")])
def test_log_to_file(tmp_path, executor, capfd, setting):
    analysis = tune.run(
        chatty,
        config={"i": tune.grid_search([7, 8])},
        log_to_file=setting,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    for t in analysis.trials:
        i = t.config["i"]
        if setting is True:
            out, err = ("stdout", "stderr")
        elif isinstance(setting, str):
            out = err = setting
        else:
            out, err = setting
        assert f"to stdout {i}" in open(os.path.join(t.path, out)).read()
        assert f"to stderr {i}" in open(os.path.join(t.path, err)).read()
    captured = capfd.readouterr()
    assert "to stdout" not in captured.out and "to stderr" not in captured.err


def test_with_resources_from_a_function_of_the_config(tmp_path):
    trainable = tune.with_resources(pid_reporter, lambda config: {"cpu": 1, "gpu": config["g"]})
    analysis = tune.run(
        trainable,
        config={"g": tune.grid_search([0, 1, 2])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=3, num_gpus=2),
    )
    seen = {t.config["g"]: t.last_result["cuda"] for t in analysis.trials}
    assert seen[0] == "" and seen[1] in {"0", "1"} and sorted(seen[2].split(",")) == ["0", "1"]
    with pytest.raises(ValueError, match="3 GPUs of 2"):
        tune.run(
            trainable,
            config={"g": 3},
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=3, num_gpus=2),
        )
