"""A result that cannot be recorded fails its own trial, never the experiment (issue 13,
item 2); the teardown writes the final state whatever else fails."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from overtone import tune
from overtone._controller import Controller
from overtone._trial import Resources
from overtone.executors._scripted import ScriptedExecutor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "core"))
from test_controller import make_spec  # noqa: E402


def _bad(kind: str):
    if kind == "int key":
        return {5: 1.0}
    if kind == "tuple key":
        return {(1, 2): 1.0}
    if kind == "nan key":
        return {float("nan"): 1.0}
    if kind == "nested tuple key":
        return {"m": {(1, 2): 3}}
    cycle: dict = {"a": 1}
    cycle["inner"] = {"back": cycle}
    return cycle


MESSAGES = {
    "int key": "the result has the key 5 (int), but metric names must be strings",
    "tuple key": "the result has the key (1, 2) (tuple)",
    "nan key": "the result has the key nan (float)",
    "nested tuple key": "result['m'] has the key (1, 2) (tuple)",
    "cycle": "result['inner']['back'] contains itself (a circular reference)",
}


def reporting(config):
    if config["x"] == 1:
        tune.report(_bad(config["kind"]))
    tune.report(score=config["x"], np_score=np.float32(config["x"]), arr=np.arange(2))


class Stepping(tune.Trainable):
    def step(self):
        if self.config["x"] == 1:
            return _bad(self.config["kind"])
        return {"score": self.config["x"], "done": True}


def _check(analysis, path: Path, kind: str) -> None:
    by_x = {t.config["x"]: t for t in analysis.trials}
    assert sorted(by_x) == [0, 1, 2, 3]
    assert by_x[1].status == "ERROR"
    assert [by_x[x].status for x in (0, 2, 3)] == ["TERMINATED"] * 3
    error = (Path(by_x[1].path) / "error.txt").read_text()
    assert MESSAGES[kind] in error, error
    state = json.loads((path / "experiment_state.json").read_text())
    assert sorted(t["status"] for t in state["trials"]) == ["ERROR"] + ["TERMINATED"] * 3


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_a_bad_result_fails_only_its_trial(tmp_path, kind, executor):
    analysis = tune.run(
        reporting,
        config={"x": tune.grid_search([0, 1, 2, 3]), "kind": kind},
        scheduler=tune.schedulers.ASHAScheduler(metric="score", mode="max"),
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        raise_on_failed_trial=False,
        max_concurrent_trials=1,
        executor=executor,
    )
    _check(analysis, tmp_path / "exp", kind)
    ok = next(t for t in analysis.trials if t.config["x"] == 2)
    assert ok.last_result["np_score"] == 2.0 and ok.last_result["arr"] == [0, 1]


@pytest.mark.parametrize("kind", ["int key", "cycle"])
def test_a_class_trainable_step_returning_a_bad_result_fails_only_its_trial(
    tmp_path, kind, executor
):
    analysis = tune.run(
        Stepping,
        config={"x": tune.grid_search([0, 1, 2, 3]), "kind": kind},
        stop={"training_iteration": 3},
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        raise_on_failed_trial=False,
        executor=executor,
    )
    _check(analysis, tmp_path / "exp", kind)


def test_a_result_that_is_not_a_dict_fails_its_trial(tmp_path, executor):
    def trainable(config):
        tune.report([1, 2] if config["x"] == 1 else {"score": 1})

    analysis = tune.run(
        trainable,
        config={"x": tune.grid_search([0, 1])},
        storage_path=str(tmp_path),
        verbose=0,
        raise_on_failed_trial=False,
        executor=executor,
    )
    assert sorted(t.status for t in analysis.trials) == ["ERROR", "TERMINATED"]


@pytest.mark.parametrize("kind", ["int key", "tuple key", "cycle"])
def test_the_driver_survives_a_bad_result_from_any_executor(tmp_path, kind):
    """An executor that does not check results (the scripted one) still cannot crash it."""

    def script(info, state):
        if info.config["x"] == 1:
            yield _bad(kind)
        yield {"score": info.config["x"]}

    spec = make_spec(tmp_path, script, xs=(0, 1, 2), metric="score", mode="max")
    controller = Controller(spec)
    controller.run()
    statuses = {t.config["x"]: t.status.value for t in controller.trials.values()}
    assert statuses == {0: "TERMINATED", 1: "ERROR", 2: "TERMINATED"}
    bad = next(t for t in controller.trials.values() if t.config["x"] == 1)
    assert "cannot be recorded" in (Path(bad.path) / "error.txt").read_text()
    state = json.loads((tmp_path / "exp" / "experiment_state.json").read_text())
    assert len(state["trials"]) == 3


class _FailingShutdown(ScriptedExecutor):
    def shutdown(self) -> None:
        super().shutdown()
        raise RuntimeError("shutdown failed")


def test_the_final_state_is_written_even_if_the_shutdown_raises(tmp_path):
    def script(info, state):
        yield {"score": 1}

    executor = _FailingShutdown(script, Resources(cpu=2))
    spec = make_spec(tmp_path, script, xs=(0, 1, 2), executor=executor)
    with pytest.raises(RuntimeError, match="shutdown failed"):
        Controller(spec).run()
    state = json.loads((tmp_path / "exp" / "experiment_state.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["TERMINATED"] * 3


def test_a_config_key_json_cannot_hold_does_not_lose_the_state(tmp_path, executor):
    def trainable(config):
        tune.report(score=1)

    tune.run(
        trainable,
        config={"table": {(1, 2): 3}},
        storage_path=str(tmp_path),
        name="exp",
        verbose=0,
        executor=executor,
    )
    state = json.loads((tmp_path / "exp" / "experiment_state.json").read_text())
    assert state["trials"][0]["status"] == "TERMINATED"
    assert state["trials"][0]["config"] == {"table": {"(1, 2)": 3}}
