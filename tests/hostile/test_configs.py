"""Configs that plain pickle cannot carry (issue 13, item 6): they travel with cloudpickle,
as the trainable does; a value nothing can send fails its trial with the key named."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from overtone import tune


def _error_text(trial) -> str:
    return (Path(trial.path) / "error.txt").read_text()


def test_a_lambda_in_the_config_reaches_the_trial(tmp_path, executor):
    def trainable(config):
        tune.report(y=config["f"](2))

    analysis = tune.run(
        trainable,
        config={"f": lambda x: x * 10},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert analysis.trials[0].last_result["y"] == 20


def test_a_function_defined_in_main_reaches_the_trial(tmp_path):
    script = tmp_path / "main.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from overtone import tune

            def helper(x):
                return x + 1

            def trainable(config):
                tune.report(y=config["f"](1))

            analysis = tune.run(trainable, config={"f": tune.grid_search([helper])},
                                storage_path=sys.argv[1], verbose=0)
            print("RESULT", analysis.trials[0].last_result["y"])
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "RESULT 2" in out.stdout


def test_a_value_that_cannot_be_sent_fails_its_trial_naming_the_key(tmp_path, executor):
    def trainable(config):
        tune.report(y=1)

    with open(tmp_path / "out.txt", "w") as fh:
        analysis = tune.run(
            trainable,
            config={"x": tune.grid_search([0, 1]), "opt": {"fh": fh}},
            storage_path=str(tmp_path),
            verbose=0,
            raise_on_failed_trial=False,
            executor=executor,
        )
    assert [t.status for t in analysis.trials] == ["ERROR", "ERROR"]
    text = _error_text(analysis.trials[0])
    assert "config['opt']['fh'] is an open file object (<_io.TextIOWrapper" in text, text
    assert "cannot be sent to a worker process" in text
    # The executor is still usable: the next experiment runs.
    again = tune.run(
        trainable,
        config={"lock": tune.grid_search([1])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert again.trials[0].status == "TERMINATED"


def test_a_lock_in_the_config_is_named(tmp_path, executor):
    def trainable(config):
        tune.report(y=1)

    analysis = tune.run(
        trainable,
        config={"lock": threading.Lock()},
        storage_path=str(tmp_path),
        verbose=0,
        raise_on_failed_trial=False,
        executor=executor,
    )
    text = _error_text(analysis.trials[0])
    assert "config['lock'] is a _thread.lock object" in text, text


def _explode():
    raise RuntimeError("this value cannot be rebuilt here")


class Unloadable:
    def __reduce__(self):
        return (_explode, ())


def test_a_config_that_cannot_be_loaded_in_the_worker_records_the_cause(tmp_path, executor):
    def trainable(config):
        tune.report(y=1)

    analysis = tune.run(
        trainable,
        config={"x": tune.grid_search([0, 1]), "thing": Unloadable()},
        storage_path=str(tmp_path),
        verbose=0,
        raise_on_failed_trial=False,
        executor=executor,
    )
    assert [t.status for t in analysis.trials] == ["ERROR", "ERROR"]
    text = _error_text(analysis.trials[0])
    assert "config could not be loaded" in text and "cannot be rebuilt here" in text, text
    assert "exited with code" not in text
