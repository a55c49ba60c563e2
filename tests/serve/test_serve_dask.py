"""Replicas on a real Dask cluster (a scheduler and two workers, subprocesses on loopback)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_models import VersionPredictor

from overtone import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "executors"))


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed", reason="the Dask tests need: pip install 'overtone[dask]'")
    from dask_procs import DaskCluster

    cluster = DaskCluster()
    try:
        cluster.add_worker("CPU=1")
        cluster.add_worker("CPU=1")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()


def test_replicas_on_dask_workers_serve_and_are_replaced(cluster, versions_experiment):
    from overtone.executors import DaskExecutor

    with serve.run(
        VersionPredictor,
        result=versions_experiment.experiment_path,
        replicas=2,
        port=0,
        executor=DaskExecutor(cluster.address),
        follow_interval_s=0.2,
    ) as handle:
        replicas = handle.replicas
        assert [r["state"] for r in replicas] == ["ready", "ready"]
        assert os.getpid() not in {r["pid"] for r in replicas}
        with httpx.Client(timeout=30) as http:
            for _ in range(20):
                answer = http.post(handle.predict_url, json={"instances": [[1], [2]]})
                assert answer.json() == {"predictions": [3, 3]}
            os.kill(replicas[0]["pid"], signal.SIGKILL)  # the replica's trial process
            for _ in range(50):
                answer = http.post(handle.predict_url, json={"instances": [[1]]})
                assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = handle.replicas
            if sum(r["state"] == "ready" for r in now) == 2:
                break
            time.sleep(0.1)
        assert sum(r["state"] == "ready" for r in now) == 2
        assert replicas[0]["pid"] not in {r["pid"] for r in now}
