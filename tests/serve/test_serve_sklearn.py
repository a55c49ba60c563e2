"""A scikit-learn model trained by an experiment, served by 2 replicas on local workers.

The tests share one server and run in order: the last one kills a replica.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from serve_models import SLOW_ROW, IrisPredictor

from overtone import serve
from overtone.executors import LocalExecutor

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture(scope="module")
def iris_rows() -> np.ndarray:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)[0]


@pytest.fixture(scope="module")
def server(iris_experiment: Any) -> Any:
    handle = serve.run(
        IrisPredictor,
        result=iris_experiment,
        replicas=2,
        port=0,
        executor=LocalExecutor(num_cpus=2, num_gpus=0),
        max_batch_size=16,
        batch_wait_timeout_s=0.005,
    )
    yield handle
    handle.stop()


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} is not in /metrics"
    return float(match.group(1))


async def _load(url: str, rows: list[list[float]], clients: int) -> list[httpx.Response]:
    """``clients`` concurrent clients send the rows one per request, each row once."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(rows)):
        queue.put_nowait(i)
    answers: list[Any] = [None] * len(rows)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            answers[i] = await http.post(url, json={"instances": [rows[i]]})

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return answers


def test_serves_the_best_checkpoint_to_concurrent_clients(server, iris_experiment, iris_rows):
    best = iris_experiment.get_best_trial("acc", "max")
    assert server.serving["trial_id"] == best.trial_id
    assert server.serving["config"] == {"C": 1.0}
    assert server.url.startswith("http://127.0.0.1:")

    rows = iris_rows.tolist() * 2  # 300 requests from 16 clients
    answers = asyncio.run(_load(server.predict_url, rows, clients=16))
    assert [a.status_code for a in answers] == [200] * len(rows)
    got = [a.json()["predictions"][0] for a in answers]
    model = IrisPredictor(best.checkpoint, {})
    assert got == model.predict(rows).tolist()
    assert server.predict(rows[:3]) == got[:3]  # the in-process client

    info = httpx.get(f"{server.url}/v1/models/model").json()
    assert info["trial_id"] == best.trial_id and info["config"] == {"C": 1.0}
    assert info["checkpoint"] == best.checkpoint.path
    assert info["metrics"]["acc"] == pytest.approx(best.last_result["acc"])
    assert [r["state"] for r in info["replicas"]] == ["ready", "ready"]
    assert len({r["pid"] for r in info["replicas"]} - {os.getpid()}) == 2
    assert httpx.get(f"{server.url}/v1/models").json() == {"models": ["model"]}
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200 and health.json()["replicas_ready"] == 2

    text = httpx.get(f"{server.url}/metrics").text
    assert 'overtone_serve_requests_total{code="200"}' in text
    assert _metric(text, "overtone_serve_request_latency_seconds_count") >= 300
    batches = _metric(text, "overtone_serve_batch_size_count")
    instances = _metric(text, "overtone_serve_batch_size_sum")
    assert instances == 303
    assert batches < instances  # requests from different clients shared batches
    assert _metric(text, "overtone_serve_replicas_ready") == 2


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be an object"),
        (b'{"inputs": [[1, 2, 3, 4]]}', 400, 'no "instances" key'),
        (b'{"instances": {"a": 1}}', 400, "must be a list"),
        (b'{"instances": ' + str([[1.0] * 4] * 17).encode() + b"}", 413, "at most 16"),
        (b'{"instances": ["boom"]}', 500, "ValueError: boom is not a row"),
        (b'{"instances": [[1, 2]]}', 500, "the predictor raised ValueError"),
    ],
)
def test_bad_requests_get_json_errors(server, body, status, words):
    answer = httpx.post(server.predict_url, content=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]
    ok = httpx.post(server.predict_url, json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert ok.status_code == 200  # the server stays up


def test_wrong_routes_get_json_errors(server):
    answer = httpx.post(f"{server.url}/v1/models/other:predict", json={"instances": [[1]]})
    assert answer.status_code == 404 and "'other' is not served" in answer.json()["error"]
    assert httpx.get(f"{server.url}/nowhere").status_code == 404
    assert "error" in httpx.get(f"{server.url}/nowhere").json()
    answer = httpx.get(server.predict_url)
    assert answer.status_code == 405 and "error" in answer.json()
    assert httpx.post(server.predict_url, json={"instances": []}).json() == {"predictions": []}


def test_a_failing_request_does_not_fail_its_batch_mates(server, iris_rows):
    rows: list[Any] = iris_rows[:40].tolist()
    rows[7] = "boom"
    rows[23] = "boom"
    answers = asyncio.run(_load(server.predict_url, rows, clients=16))
    for i, answer in enumerate(answers):
        assert answer.status_code == (500 if rows[i] == "boom" else 200), (i, answer.text)


def test_a_replica_killed_under_load_loses_no_request(server, iris_rows):
    before = {r["pid"] for r in server.replicas}
    slow: dict[str, Any] = {}

    def send_slow() -> None:
        slow["answer"] = httpx.post(server.predict_url, json={"instances": [SLOW_ROW]}, timeout=60)

    sender = threading.Thread(target=send_slow)
    sender.start()
    deadline = time.monotonic() + 10
    busy = []
    while not busy and time.monotonic() < deadline:
        busy = [r for r in server.replicas if r["busy"]]
        time.sleep(0.01)
    assert busy, "the slow request never reached a replica"
    victim = busy[0]["pid"]

    rows = iris_rows.tolist()
    results: dict[str, Any] = {}

    def load() -> None:
        results["answers"] = asyncio.run(_load(server.predict_url, rows, clients=8))

    loader = threading.Thread(target=load)
    loader.start()
    os.kill(victim, signal.SIGKILL)
    loader.join(60)
    sender.join(60)
    assert slow["answer"].status_code == 200, slow["answer"].text  # retried elsewhere
    assert [a.status_code for a in results["answers"]] == [200] * len(rows)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a replacement comes
        replicas = server.replicas
        if sum(r["state"] == "ready" for r in replicas) == 2:
            break
        time.sleep(0.1)
    pids = {r["pid"] for r in replicas if r["state"] == "ready"}
    assert len(pids) == 2 and victim not in pids and pids & before
    text = httpx.get(f"{server.url}/metrics").text
    assert _metric(text, "overtone_serve_replica_deaths_total") == 1
    assert _metric(text, "overtone_serve_retries_total") >= 1
    assert _metric(text, "overtone_serve_replica_starts_total") == 3
