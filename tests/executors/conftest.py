"""A real Dask cluster, shared by the tests of this directory that do not break it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dask_procs import DaskCluster

# An extra worker with GPUs and a custom resource but no CPU: trials asking for CPUs (all the
# conformance tests') never go there, so for them the cluster is 2 workers of 1 CPU each.
ACCELERATOR_DEVICES = "3,5"


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[DaskCluster]:
    """A ``dask scheduler`` and ``dask worker`` subprocesses on 127.0.0.1:

    - 2 workers with ``--nthreads 1 --resources CPU=1``;
    - 1 worker with ``--nthreads 2 --resources CPU=0,GPU=2,license=1`` that sees the
      (pretend) devices 3 and 5 in its ``CUDA_VISIBLE_DEVICES``.
    """
    pytest.importorskip("distributed", reason="the Dask tests need: pip install 'overtone[dask]'")
    cluster = DaskCluster()
    try:
        cluster.add_worker("CPU=1")
        cluster.add_worker("CPU=1")
        cluster.add_worker(
            "CPU=0,GPU=2,license=1", nthreads=2, env={"CUDA_VISIBLE_DEVICES": ACCELERATOR_DEVICES}
        )
        cluster.wait_for_workers(3)
        yield cluster
    finally:
        cluster.close()
