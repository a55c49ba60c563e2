"""Start-up: what a run imports, and the executor started before the controller (issue 17).

The quick start's time is mostly imports: pandas is imported only for a dataframe, numpy only
when a domain samples, the progress package only when something is printed; and the local
executor's workers start before the driver imports the controller, so that the two overlap.
Each check runs in a fresh interpreter, where ``sys.modules`` says what was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from overtone import tune
from overtone.executors import LocalExecutor


def _modules_after(code: str, tmp_path: Path) -> dict[str, bool]:
    """Run ``code`` in a fresh interpreter; it sets ``watched`` (names) and prints a JSON
    object of which of them were imported."""
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(code)
        + "\nimport json, sys\n"
        + "print(json.dumps({m: m in sys.modules for m in watched}))\n"
    )
    env = dict(os.environ, OVERTONE_STORAGE_PATH=str(tmp_path / "results"))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


QUICKSTART = """
    from overtone import tune

    def train(config):
        for step in range(3):
            tune.report(mean_loss=config["alpha"] * step + config["beta"])

    if __name__ == "__main__":
        analysis = tune.run(
            train,
            config={"alpha": tune.grid_search([0.1, 0.2]), "beta": tune.choice([1, 2])},
            verbose=VERBOSE,
        )
        analysis.get_best_config(metric="mean_loss", mode="min")
        DATAFRAME
        watched = ["pandas", "overtone.progress._reporter", "overtone.progress._notebook"]
"""


def test_a_run_imports_pandas_only_for_a_dataframe(tmp_path: Path) -> None:
    code = QUICKSTART.replace("VERBOSE", "1")
    without = _modules_after(code.replace("DATAFRAME", "pass"), tmp_path)
    assert without["pandas"] is False
    with_df = _modules_after(code.replace("DATAFRAME", "analysis.results_df"), tmp_path)
    assert with_df["pandas"] is True


def test_a_quiet_run_imports_no_progress_output(tmp_path: Path) -> None:
    quiet = _modules_after(QUICKSTART.replace("VERBOSE", "0").replace("DATAFRAME", ""), tmp_path)
    assert quiet == {
        "pandas": False,
        "overtone.progress._reporter": False,
        "overtone.progress._notebook": False,
    }
    # The default output prints a table, and only a notebook needs the HTML one.
    loud = _modules_after(QUICKSTART.replace("VERBOSE", "3").replace("DATAFRAME", ""), tmp_path)
    assert loud["overtone.progress._reporter"] is True
    assert loud["overtone.progress._notebook"] is False


def test_the_search_space_and_tune_run_import_no_numpy(tmp_path: Path) -> None:
    found = _modules_after(
        """
        from overtone import tune
        space = {"a": tune.grid_search([1, 2]), "b": tune.choice([1, 2]),
                 "c": tune.uniform(0, 1), "d": tune.qrandint(0, 10, 2)}
        tune.run
        watched = ["numpy", "pandas", "overtone._controller", "overtone.progress._reporter"]
        """,
        tmp_path,
    )
    # The controller is imported by tune.run() itself, once the workers are starting.
    assert found == dict.fromkeys(found, False)


def test_a_grid_search_alone_never_imports_numpy(tmp_path: Path) -> None:
    found = _modules_after(
        """
        from overtone import tune

        def train(config):
            tune.report(score=config["a"])

        if __name__ == "__main__":
            tune.run(train, config={"a": tune.grid_search([1, 2, 3])}, verbose=0)
            watched = ["numpy"]
        """,
        tmp_path,
    )
    assert found == {"numpy": False}


class _Recording(LocalExecutor):
    def __init__(self, calls: list[str]) -> None:
        super().__init__(num_cpus=1, num_gpus=0)
        self.calls = calls

    def setup(self, trainable_key: str, trainable_blob: bytes) -> None:
        self.calls.append("setup")
        super().setup(trainable_key, trainable_blob)

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        super().shutdown()


def _train(config: dict) -> None:
    tune.report(score=config["x"])


def test_the_executor_is_set_up_once_and_shut_down(tmp_path: Path) -> None:
    calls: list[str] = []
    analysis = tune.run(
        _train,
        config={"x": tune.grid_search([1, 2])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=_Recording(calls),
    )
    assert sorted(t.last_result["score"] for t in analysis.trials) == [1, 2]
    assert calls[0] == "setup" and calls.count("setup") == 1
    assert calls[-1] == "shutdown"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"search_alg": object()}, TypeError),
        ({"scheduler": object()}, TypeError),
        ({"checkpoint_at_end": True}, ValueError),  # a function trainable
    ],
)
def test_an_experiment_refused_after_the_workers_started_shuts_them_down(
    tmp_path: Path, kwargs: dict, error: type
) -> None:
    calls: list[str] = []
    executor = _Recording(calls)
    with pytest.raises(error):
        tune.run(
            _train,
            config={"x": tune.grid_search([1, 2])},
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
            **kwargs,
        )
    assert calls == ["setup", "shutdown"]
    assert not executor._idle and not executor._by_conn  # no worker left running
