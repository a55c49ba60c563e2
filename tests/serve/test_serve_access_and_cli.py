"""The token check, start-up failures, argument checks and the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_models import (
    AsyncVersionPredictor,
    BrokenPredictor,
    SleepyVersionPredictor,
    VersionPredictor,
)

from overtone import serve
from overtone.executors import LocalExecutor

REPO = Path(__file__).resolve().parents[2]


def _best_checkpoint(analysis) -> str:
    return analysis.get_best_checkpoint(
        analysis.get_best_trial("score", "max"), "score", "max"
    ).path


def test_a_non_loopback_host_requires_the_token(versions_experiment):
    with serve.run(
        AsyncVersionPredictor,  # an async predict
        result=versions_experiment,
        host="0.0.0.0",
        port=0,
        executor=LocalExecutor(num_cpus=1, num_gpus=0),
    ) as handle:
        assert handle.token and len(handle.token) >= 20  # generated
        url = f"http://127.0.0.1:{handle.port}"
        body = {"instances": [[1], [2]]}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": handle.token}):
            for answer in (
                httpx.post(f"{url}/v1/models/model:predict", json=body, headers=headers),
                httpx.get(f"{url}/healthz", headers=headers),
                httpx.get(f"{url}/metrics", headers=headers),
            ):
                assert answer.status_code == 401
                assert "token" in answer.json()["error"]
                assert answer.headers["www-authenticate"] == "Bearer"
        good = {"Authorization": f"Bearer {handle.token}"}
        answer = httpx.post(f"{url}/v1/models/model:predict", json=body, headers=good)
        assert answer.status_code == 200 and answer.json() == {"predictions": [3, 3]}
        assert httpx.get(f"{url}/healthz", headers=good).status_code == 200


def test_a_given_token_is_checked_on_loopback_too(versions_experiment):
    checkpoint = _best_checkpoint(versions_experiment)
    with serve.run(
        VersionPredictor,
        checkpoint=checkpoint,
        port=0,
        token="s3cret",
        executor=LocalExecutor(num_cpus=1, num_gpus=0),
    ) as handle:
        assert handle.serving["checkpoint"] == checkpoint
        assert handle.serving["config"] == {"versions": 3}  # from the trial's params.json
        assert httpx.get(f"{handle.url}/healthz").status_code == 401
        answer = httpx.get(f"{handle.url}/healthz", headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code == 200
        assert handle.predict([[0]]) == [3]


def test_replicas_get_their_gpus_and_late_answers_become_503s(versions_experiment):
    with serve.run(
        SleepyVersionPredictor,
        result=versions_experiment,
        replicas=2,
        resources={"cpu": 0.5, "gpu": 1},
        port=0,
        request_timeout_s=0.3,
        executor=LocalExecutor(num_cpus=2, num_gpus=2),  # pretend GPUs: placement only
    ) as handle:
        devices = sorted(r["cuda_visible_devices"] for r in handle.replicas)
        assert devices == ["0", "1"]  # each replica sees its own GPU, as a trial would
        answer = httpx.post(handle.predict_url, json={"instances": ["sleep"]})
        assert answer.status_code == 503
        assert "no replica answered within request_timeout_s=0.3 s" in answer.json()["error"]
        assert answer.headers["retry-after"] == "1"
        answer = httpx.post(handle.predict_url, json={"instances": [[1]]})
        assert answer.status_code == 200 and answer.json() == {"predictions": [3]}


def test_a_predictor_that_cannot_load_fails_the_start(versions_experiment):
    started = time.monotonic()
    with pytest.raises(serve.ServeError, match="this model cannot be loaded"):
        serve.run(
            BrokenPredictor,
            result=versions_experiment,
            port=0,
            executor=LocalExecutor(num_cpus=1, num_gpus=0),
        )
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"replicas": 0}, "replicas is 0, but must be an integer >= 1"),
        ({"max_batch_size": 0}, "max_batch_size is 0"),
        ({"batch_wait_timeout_s": -1}, "batch_wait_timeout_s is -1"),
        ({"mode": "best"}, "mode is 'best'"),
        ({"port": 70000}, "port is 70000"),
        ({"name": "a/b"}, "name is 'a/b'"),
        ({"resources": {"cpu": 64}}, "but the executor has only"),
        ({"replicas": 3}, "replicas is 3 with resources {'cpu': 1, 'gpu': 0} each"),
        ({"checkpoint": "/nonexistent/checkpoint"}, "checkpoint and result are both given"),
    ],
)
def test_bad_arguments_are_named(versions_experiment, kwargs, words):
    kwargs = {"result": versions_experiment, "port": 0, **kwargs}
    kwargs.setdefault("executor", LocalExecutor(num_cpus=1, num_gpus=0))
    with pytest.raises(ValueError, match=re.escape(words)):
        serve.run(VersionPredictor, **kwargs)


def test_a_bad_predictor_spec_is_named():
    with pytest.raises(ValueError, match="'nowhere_module' cannot be imported"):
        serve.run("nowhere_module:Model", checkpoint="/tmp", port=0)
    with pytest.raises(TypeError, match="must be a class with __init__"):
        serve.run(42, checkpoint="/tmp", port=0)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_line_serves_an_experiment(versions_experiment, tmp_path, stop_signal):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), str(REPO)])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "overtone.serve",
            versions_experiment.experiment_path,
            "--predictor",
            "serve_models:VersionPredictor",
            "--port",
            "0",
            "--replicas",
            "2",
            "--cpus",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        match = re.search(
            r"^Serving (http://127\.0\.0\.1:\d+/v1/models/model:predict)$", text, re.MULTILINE
        )
        assert match, text
        assert "trial:      train_versions_" in text
        assert 'config:     {"versions": 3}' in text
        assert "score: 3" in text
        assert f"checkpoint: {_best_checkpoint(versions_experiment)}" in text
        answer = httpx.post(match.group(1), json={"instances": [[1], [2], [3]]})
        assert answer.json() == {"predictions": [3, 3, 3]}
        proc.send_signal(stop_signal)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "Stopped." in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_the_command_line_names_a_bad_experiment(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "overtone.serve",
            str(tmp_path / "nowhere"),
            "--predictor",
            "sklearn",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "overtone serve: error: checkpoint is" in proc.stderr
    assert "must be a checkpoint folder" in proc.stderr
