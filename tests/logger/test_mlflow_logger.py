"""MLflowLoggerCallback and setup_mlflow against real MLflow tracking stores."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.util import find_spec

import pytest

from overtone import tune
from overtone.callbacks._guard import CallbackList
from overtone.integrations.mlflow import MLflowLoggerCallback, setup_mlflow

# Not imported at module level: the workers import this module to load its trainables, and
# MLflow takes seconds to import.
pytestmark = pytest.mark.skipif(find_spec("mlflow") is None, reason="needs mlflow")


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory) -> str:
    """One SQLite store for the module: creating its tables takes seconds."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{path}"
    import mlflow

    mlflow.MlflowClient(tracking_uri=uri).search_experiments()  # create the tables now
    return uri


def _runs(uri: str, experiment: str):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r}"
    return client, client.search_runs([exp.experiment_id], max_results=100)


def _history(client, run, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))


def sweep(config):
    for step in range(1, 5):
        if config["x"] == 10 and step == 3:
            raise RuntimeError("trial 10 fails on purpose")
        tune.report({"loss": config["x"] / step, "eval": {"acc": step / 10}, "note": "text"})


def test_ten_trials_make_ten_runs_with_params_and_histories(tmp_path, executor, sqlite_uri):
    callback = MLflowLoggerCallback(
        tracking_uri=sqlite_uri, experiment_name="ten", tags={"team": "search"}
    )
    space = {"x": tune.grid_search(list(range(1, 11))), "opt": {"name": "adam", "lr": 0.01}}
    analysis = tune.run(
        sweep,
        name="exp",
        config=space,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        raise_on_failed_trial=False,
        callbacks=[callback],
    )
    client, runs = _runs(sqlite_uri, "ten")
    assert len(runs) == 10
    names = {t.trial_name: t for t in analysis.trials}
    assert {r.info.run_name for r in runs} == set(names)
    for run in runs:
        trial = names[run.info.run_name]
        x = trial.config["x"]
        assert run.data.params == {"x": str(x), "opt/name": "adam", "opt/lr": "0.01"}
        assert run.data.tags["team"] == "search"
        assert run.data.tags["trial_id"] == trial.trial_id
        steps = range(1, 5) if x != 10 else range(1, 3)
        assert _history(client, run, "loss") == [(s, pytest.approx(x / s)) for s in steps]
        assert _history(client, run, "eval/acc") == [(s, pytest.approx(s / 10)) for s in steps]
        assert "note" not in run.data.metrics and "pid" not in run.data.metrics
        assert "training_iteration" in run.data.metrics
        assert run.info.status == ("FAILED" if x == 10 else "FINISHED")


def test_file_store_with_artifacts(tmp_path, executor, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for this opt-in
    uri = (tmp_path / "mlruns").as_uri()
    callback = MLflowLoggerCallback(tracking_uri=uri, experiment_name="files", save_artifact=True)
    tune.run(
        sweep,
        name="exp",
        config={"x": tune.grid_search([1, 2])},
        storage_path=str(tmp_path / "results"),
        verbose=0,
        executor=executor,
        callbacks=[callback],
    )
    client, runs = _runs(uri, "files")
    assert len(runs) == 2
    for run in runs:
        assert run.info.status == "FINISHED"
        assert len(_history(client, run, "loss")) == 4
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"result.json", "progress.csv", "params.json"} <= artifacts


def inside(config):
    mlflow_module = setup_mlflow(
        config,
        tracking_uri=config["uri"],
        experiment_name="inside",
        create_experiment_if_not_exists=True,
        tags={"source": "trial"},
    )
    for step in range(3):
        mlflow_module.log_metric("inner_loss", config["x"] / (step + 1), step=step)
        tune.report({"loss": config["x"] / (step + 1)})


def test_setup_mlflow_inside_the_trainable(tmp_path, executor, sqlite_uri):
    # Three trials on two workers: one worker runs two trials, one run after the other.
    analysis = tune.run(
        inside,
        config={"x": tune.grid_search([1, 2, 3]), "uri": sqlite_uri},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    client, runs = _runs(sqlite_uri, "inside")
    trials = {t.trial_name: t for t in analysis.trials}
    assert {r.info.run_name for r in runs} == set(trials)
    for run in runs:
        x = trials[run.info.run_name].config["x"]
        assert run.data.params["x"] == str(x)
        assert run.data.tags["source"] == "trial"
        assert run.data.tags["trial_id"] == trials[run.info.run_name].trial_id
        assert _history(client, run, "inner_loss") == [
            (s, pytest.approx(x / (s + 1))) for s in range(3)
        ]
        assert run.info.status == "FINISHED"  # ended when its trial ended


def test_setup_mlflow_refuses_a_missing_experiment(sqlite_uri):
    with pytest.raises(ValueError, match="create_experiment_if_not_exists"):
        setup_mlflow({}, tracking_uri=sqlite_uri, experiment_name="does-not-exist")


def test_a_failing_store_does_not_stop_the_experiment(tmp_path, executor):
    stream = io.StringIO()
    callback = MLflowLoggerCallback(tracking_uri="unknown-scheme://nowhere")
    analysis = tune.run(
        sweep,
        config={"x": 1},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        callbacks=[CallbackList([callback], stream=stream)],
    )
    assert str(analysis.trials[0].status) == "TERMINATED"
    assert "MLflowLoggerCallback.setup raised an exception" in stream.getvalue()
    assert "could not be set up" in stream.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail("mlflow server exited:\n" + (tmp_path / "server.log").read_text())
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("mlflow server did not answer within 90 s")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


def test_through_a_real_mlflow_server(tmp_path, executor, mlflow_server):
    callback = MLflowLoggerCallback(tracking_uri=mlflow_server, experiment_name="served")
    analysis = tune.run(
        sweep,
        config={"x": tune.grid_search([1, 2, 3])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        callbacks=[callback],
    )
    client, runs = _runs(mlflow_server, "served")
    assert {r.info.run_name for r in runs} == {t.trial_name for t in analysis.trials}
    for run in runs:
        x = int(run.data.params["x"])
        assert _history(client, run, "loss") == [(s, pytest.approx(x / s)) for s in range(1, 5)]
        assert run.info.status == "FINISHED"
