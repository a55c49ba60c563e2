"""Configs that plain pickle cannot carry, on the Dask executor (issue 13, item 6)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from overtone import tune

distributed = pytest.importorskip("distributed", reason="needs: pip install 'overtone[dask]'")

from dask_procs import DaskCluster  # noqa: E402

from overtone.executors import DaskExecutor  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    cluster = DaskCluster()
    try:
        cluster.add_worker("CPU=1")
        cluster.wait_for_workers(1)
        yield cluster
    finally:
        cluster.close()


@pytest.mark.parametrize("lock_first", [True, False])  # a new slot, or a reused one
def test_a_lambda_and_an_unsendable_value_on_dask(tmp_path, cluster, lock_first):
    locks = [threading.Lock(), None]

    def trainable(config):
        tune.report(y=config["f"](2))

    analysis = tune.run(
        trainable,
        config={
            "f": lambda x: x * 10,
            "lock": tune.grid_search(locks if lock_first else locks[::-1]),
        },
        storage_path=str(tmp_path),
        verbose=0,
        raise_on_failed_trial=False,
        executor=DaskExecutor(cluster.address),
    )
    by_lock = {t.config["lock"] is None: t for t in analysis.trials}
    assert by_lock[True].status == "TERMINATED" and by_lock[True].last_result["y"] == 20
    assert by_lock[False].status == "ERROR"
    text = (Path(by_lock[False].path) / "error.txt").read_text()
    assert "config['lock'] is a _thread.lock object" in text, text
