"""Follow mode: the service swaps to a better checkpoint of a running experiment, under load,
without failing a request."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from typing import Any

import httpx
from serve_models import VersionPredictor, train_versions

from overtone import serve, tune
from overtone.executors import LocalExecutor


def _start_experiment(tmp_path, finished: dict[str, Any], **config: Any) -> threading.Thread:
    def experiment_thread() -> None:
        try:
            finished["analysis"] = tune.run(
                train_versions,
                config={"gate": str(tmp_path / "go"), **config},
                metric="score",
                mode="max",
                storage_path=str(tmp_path / "results"),
                name="running",
                verbose=0,
                executor=LocalExecutor(num_cpus=1, num_gpus=0),
            )
        except BaseException as exc:  # noqa: BLE001 - checked below
            finished["error"] = exc

    runner = threading.Thread(target=experiment_thread)
    runner.start()
    return runner


def test_follow_swaps_to_better_checkpoints_without_failed_requests(tmp_path):
    gate = tmp_path / "go"
    experiment = tmp_path / "results" / "running"
    finished: dict[str, Any] = {}
    runner = _start_experiment(tmp_path, finished, versions=3, pause=1.0)
    handle = None
    try:
        handle = serve.run(
            VersionPredictor,
            result=str(experiment),
            replicas=2,
            port=0,
            follow=True,
            follow_interval_s=0.2,
            startup_timeout_s=60,
            executor=LocalExecutor(num_cpus=2, num_gpus=0),
        )
        assert handle.serving["score"] == 1 and handle.serving["generation"] == 1

        seen: Counter[Any] = Counter()
        failures: list[str] = []
        done = threading.Event()

        def client() -> None:
            with httpx.Client(timeout=30) as http:
                last = 0
                for _ in range(2000):  # bounded: a swap to 3 ends it well before
                    answer = http.post(handle.predict_url, json={"instances": [[0], [1]]})
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text}")
                        continue
                    version = answer.json()["predictions"][0]
                    seen[version] += 1
                    if version < last:
                        failures.append(f"version {version} after {last}")
                    last = version
                    if version == 3 or done.is_set():
                        return

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        time.sleep(0.5)
        gate.touch()  # the experiment goes on: versions 2 and 3 appear while clients ask
        for thread in clients:
            thread.join(90)
        done.set()
        runner.join(60)
        assert "error" not in finished
        assert failures == []
        assert seen[1] > 0 and seen[3] > 0
        serving = handle.serving
        assert serving["score"] == 3 and serving["generation"] >= 2
        assert serving["checkpoint"].startswith(str(experiment))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            replicas = handle.replicas
            if [r["generation"] for r in replicas] == [serving["generation"]] * 2:
                break
            time.sleep(0.1)
        assert [r["state"] for r in replicas] == ["ready", "ready"]
        assert {r["generation"] for r in replicas} == {serving["generation"]}
        text = httpx.get(f"{handle.url}/metrics").text
        assert "overtone_serve_replica_deaths_total 0" in text
        assert 'code="200"' in text and 'code="5' not in text
    finally:
        gate.touch()
        if handle is not None:
            handle.stop()
        runner.join(60)


def test_a_better_checkpoint_that_cannot_load_leaves_the_old_one_serving(tmp_path):
    finished: dict[str, Any] = {}
    runner = _start_experiment(tmp_path, finished, versions=2, broken_from=2)
    handle = None
    try:
        handle = serve.run(
            VersionPredictor,
            result=str(tmp_path / "results" / "running"),
            replicas=2,
            port=0,
            follow=True,
            follow_interval_s=0.2,
            startup_timeout_s=60,
            executor=LocalExecutor(num_cpus=2, num_gpus=0),
        )
        (tmp_path / "go").touch()  # version 2 comes, better but broken
        answers: Counter[Any] = Counter()
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                answer = http.post(handle.predict_url, json={"instances": [[0]]})
                answers[answer.status_code, answer.text] += 1
                text = http.get(f"{handle.url}/metrics").text
                deaths = float(
                    re.search(
                        r"^overtone_serve_replica_deaths_total (\S+)$", text, re.MULTILINE
                    ).group(1)
                )
                ready = [r for r in handle.replicas if r["state"] == "ready"]
                if deaths >= 3 and len(ready) == 2:
                    break
        assert deaths >= 3  # three replicas tried version 2, then the swap was given up
        assert set(answers) == {(200, '{"predictions":[1]}')}
        serving = handle.serving
        assert serving["score"] == 1 and serving["generation"] == 1
        assert {r["generation"] for r in handle.replicas} == {1}
        time.sleep(1.0)  # it does not try the broken checkpoint again
        assert handle.serving["generation"] == 1
    finally:
        (tmp_path / "go").touch()
        if handle is not None:
            handle.stop()
        runner.join(60)
