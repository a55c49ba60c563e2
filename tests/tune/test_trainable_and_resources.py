"""tune.Trainable as Ray has it (standalone and in a trial), PlacementGroupFactory, and the
tune.utils helpers (issue 12)."""

from __future__ import annotations

import json
import math
import os
import threading

import pytest

from overtone import train, tune
from overtone.tune.execution.placement_groups import PlacementGroupFactory
from overtone.tune.utils import (
    deep_update,
    diagnose_serialization,
    flatten_dict,
    merge_dicts,
    unflatten_dict,
    validate_save_restore,
    wait_for_gpu,
)
from overtone.tune.utils.mock_trainable import MyTrainableClass


class Facts(tune.Trainable):
    """Reports what it knows about its trial."""

    def setup(self, config):
        self.seen_in_setup = (self.trial_id, self.trial_name)

    def step(self):
        return {
            "trial_id": self.trial_id,
            "in_setup": list(self.seen_in_setup),
            "name": self.trial_name,
            "logdir": self.logdir,
            "trial_dir": self.trial_dir,
            "cpu": self.trial_resources.cpu,
            "config": self.get_config(),
            "it": self.iteration,
            "done": self.training_iteration >= 1,
        }


def test_trial_facts_inside_a_trial(tmp_path, executor):
    grid = tune.Tuner(
        Facts,
        param_space={"a": 1},
        run_config=tune.RunConfig(
            name="facts", storage_path=str(tmp_path), executor=executor, verbose=0
        ),
    ).fit()
    result = grid[0]
    assert result.error is None
    metrics = result.metrics
    assert metrics["in_setup"] == [metrics["trial_id"], metrics["name"]]
    assert metrics["name"] != "default"
    assert metrics["logdir"] == metrics["trial_dir"] == result.path
    assert metrics["cpu"] == 1
    assert metrics["it"] == 1 and metrics["training_iteration"] == 2  # 1 done before


def test_standalone_trainable_as_in_a_notebook():
    trainable = MyTrainableClass({"width": 2, "height": 3})
    assert (trainable.trial_id, trainable.trial_name, trainable.trial_resources) == (
        "default",
        "default",
        None,
    )
    first = trainable.train()
    second = trainable.train()
    assert first["training_iteration"] == 1 and second["training_iteration"] == 2
    assert second["episode_reward_mean"] > first["episode_reward_mean"]
    assert second["config"] == {"width": 2, "height": 3}
    assert second["done"] is False and second["time_total_s"] >= second["time_this_iter_s"]
    path = trainable.save()
    assert os.path.isdir(path) and path.startswith(trainable.logdir)
    other = MyTrainableClass({"width": 2, "height": 3})
    other.restore(path)
    assert other.iteration == 2
    assert other.train()["episode_reward_mean"] == pytest.approx(3 * math.tanh(3 / 2))
    other.stop()
    assert validate_save_restore(MyTrainableClass)


class Resettable(tune.Trainable):
    setups = 0

    def setup(self, config):
        self.pid = os.getpid()
        self.made = id(self)

    def step(self):
        return {"obj": self.made, "x": self.config["x"], "done": True}

    def reset_config(self, new_config):
        return True


def test_reset_config_with_reuse_actors(tmp_path):
    grid = tune.Tuner(
        Resettable,
        param_space={"x": tune.grid_search([1, 2, 3])},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            executor=tune.LocalExecutor(num_cpus=1),
            verbose=0,
        ),
    ).fit()
    assert sorted(r.metrics["x"] for r in grid) == [1, 2, 3]
    assert len({r.metrics["obj"] for r in grid}) == 1  # one object served the three trials


class Big(tune.Trainable):
    @classmethod
    def default_resource_request(cls, config):
        return PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}])

    def step(self):
        return {"cpu": tune.get_context().get_trial_resources()["cpu"], "done": True}


def test_default_resource_request_and_placement_groups(tmp_path, executor):
    grid = tune.Tuner(
        Big, run_config=tune.RunConfig(storage_path=str(tmp_path), executor=executor, verbose=0)
    ).fit()
    assert grid[0].metrics["cpu"] == 2

    def fn(config):
        tune.report(gpu=tune.get_context().get_trial_resources()["gpu"])

    pgf = tune.PlacementGroupFactory([{"CPU": 0.5}, {"CPU": 0.5, "GPU": 0}])
    analysis = tune.run(
        fn, resources_per_trial=pgf, storage_path=str(tmp_path), executor=executor, verbose=0
    )
    assert analysis.trials[0].last_result["gpu"] == 0
    grid = tune.Tuner(
        tune.with_resources(fn, lambda config: PlacementGroupFactory([{"CPU": 1}])),
        run_config=tune.RunConfig(storage_path=str(tmp_path), executor=executor, verbose=0),
    ).fit()
    assert grid.num_errors == 0


def test_placement_group_factory_maps_onto_resources():
    pgf = PlacementGroupFactory([{"CPU": 1, "GPU": 1}, {"CPU": 2, "custom_thing": 1}])
    assert pgf.to_resources() == tune.Resources(cpu=3, gpu=1, custom={"custom_thing": 1})
    assert pgf.required_resources == {"CPU": 3, "GPU": 1, "custom_thing": 1}
    assert pgf.head_cpus == 1 and pgf.strategy == "PACK"
    assert pgf == PlacementGroupFactory([{"CPU": 1, "GPU": 1}, {"CPU": 2, "custom_thing": 1}])
    with pytest.raises(ValueError, match="does not account memory"):
        PlacementGroupFactory([{"CPU": 1, "memory": 10**9}])
    with pytest.raises(ValueError, match="STRICT_SPREAD"):
        PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    with pytest.raises(ValueError, match="strategy is 'NEAR'"):
        PlacementGroupFactory([{"CPU": 1}], strategy="NEAR")
    with pytest.raises(ValueError, match="non-empty list"):
        PlacementGroupFactory([])


class EveryOther(tune.Trainable):
    def step(self):
        return {"should_checkpoint": self.iteration % 2 == 1, "done": self.iteration >= 3}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "it.json"), "w") as f:
            json.dump(self.iteration, f)


def test_should_checkpoint_is_honoured(tmp_path, executor):
    grid = tune.Tuner(
        EveryOther,
        run_config=tune.RunConfig(
            name="sc", storage_path=str(tmp_path), executor=executor, verbose=0
        ),
    ).fit()
    dirs = sorted(d for d in os.listdir(grid[0].path) if d.startswith("checkpoint_"))
    assert dirs == ["checkpoint_000002", "checkpoint_000004"]


def test_train_module_runs_a_tune_script(tmp_path, executor):
    def fn(config):
        ctx = train.get_context()
        train.report({"x": config["x"], "name": ctx.get_trial_name()})

    grid = tune.Tuner(
        fn,
        param_space={"x": 3},
        run_config=train.RunConfig(storage_path=str(tmp_path), executor=executor, verbose=0),
    ).fit()
    assert grid[0].metrics["x"] == 3


def test_session_functions_outside_a_trial():
    assert tune.is_session_enabled() is False
    assert tune.get_trial_id() is None and tune.get_trial_dir() is None


def test_dict_helpers():
    nested = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    flat = flatten_dict(nested)
    assert flat == {"a/b": 1, "a/c/d": 2, "e": 3}
    assert unflatten_dict(flat) == nested
    assert merge_dicts(nested, {"a": {"b": 5}, "f": 1}) == {
        "a": {"b": 5, "c": {"d": 2}},
        "e": 3,
        "f": 1,
    }
    assert nested["a"]["b"] == 1  # merge_dicts copies
    with pytest.raises(ValueError, match="'zz'"):
        deep_update({"a": 1}, {"zz": 2})
    with pytest.raises(ValueError, match="delimiter"):
        flatten_dict({"a/b": 1}, prevent_delimiter=True)


def test_diagnose_serialization_names_the_culprit(capsys):
    lock = threading.Lock()

    def uses_lock(config):
        with lock:
            pass

    def fine(config):
        return None

    assert diagnose_serialization(fine) is True
    assert diagnose_serialization(uses_lock) == {"lock"}
    assert "lock" in capsys.readouterr().out


def test_wait_for_gpu_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(RuntimeError, match="no GPU"):
        wait_for_gpu(retry=1, delay_s=0)


def test_wait_for_gpu_polls_until_memory_is_free(tmp_path, monkeypatch):
    # A stand-in nvidia-smi: 900 of 1000 MiB used at first, then 5 of 1000.
    calls = tmp_path / "calls"
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo x >> "{calls}"\n'
        f'if [ $(wc -l < "{calls}") -lt 3 ]; then echo "900, 1000"; else echo "5, 1000"; fi\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert wait_for_gpu(retry=5, delay_s=0) is True
    assert len(calls.read_text().splitlines()) == 3
    calls.write_text("")
    with pytest.raises(RuntimeError, match="90.0% of its memory in use after 2 checks"):
        wait_for_gpu(retry=2, delay_s=0)
