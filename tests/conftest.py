from __future__ import annotations

import pytest

from overtone.executors import LocalExecutor


@pytest.fixture
def executor() -> LocalExecutor:
    """Two CPUs, no GPUs: what CI machines have, whatever this one has."""
    return LocalExecutor(num_cpus=2, num_gpus=0)


@pytest.fixture(autouse=True)
def _no_default_storage(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    # Never write under ~/overtone_results from tests, even when a test forgets storage_path.
    monkeypatch.setenv("OVERTONE_STORAGE_PATH", str(tmp_path_factory.mktemp("default_storage")))
