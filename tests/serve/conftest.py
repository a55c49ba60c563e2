"""Experiments to serve, trained once per session, and a helper to make clients."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the workers import serve_models through sys.path
    sys.path.insert(0, str(HERE))

pytest.importorskip("starlette", reason="the serving tests need: pip install 'overtone[serve]'")
pytest.importorskip("uvicorn", reason="the serving tests need: pip install 'overtone[serve]'")


@pytest.fixture(scope="session")
def iris_experiment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Two logistic regressions on iris (C=0.01 and C=1); the second is the more accurate."""
    pytest.importorskip("sklearn")
    from serve_models import train_iris

    from overtone import tune
    from overtone.executors import LocalExecutor

    return tune.run(
        train_iris,
        config={"C": tune.grid_search([0.01, 1.0])},
        metric="acc",
        mode="max",
        storage_path=str(tmp_path_factory.mktemp("iris")),
        name="iris",
        verbose=0,
        executor=LocalExecutor(num_cpus=2, num_gpus=0),
    )


@pytest.fixture(scope="session")
def versions_experiment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One trial whose checkpoints hold versions 1, 2, 3 (score = version)."""
    from serve_models import train_versions

    from overtone import tune
    from overtone.executors import LocalExecutor

    return tune.run(
        train_versions,
        config={"versions": 3},
        metric="score",
        mode="max",
        storage_path=str(tmp_path_factory.mktemp("versions")),
        name="versions",
        verbose=0,
        executor=LocalExecutor(num_cpus=1, num_gpus=0),
    )
