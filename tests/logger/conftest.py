from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from overtone._trial import FrozenTrial, Resources, TrialStatus


@pytest.fixture
def make_trial(tmp_path) -> Callable[..., FrozenTrial]:
    """A snapshot of a trial whose folder is under tmp_path/exp."""

    def make(
        index: int = 0,
        config: dict[str, Any] | None = None,
        status: TrialStatus = TrialStatus.RUNNING,
    ) -> FrozenTrial:
        trial_id = f"abcde_{index:05d}"
        return FrozenTrial(
            trial_id=trial_id,
            trial_name=f"train_{trial_id}",
            config={"lr": 0.1, "layers": 2} if config is None else config,
            status=status,
            last_result={},
            path=os.path.join(str(tmp_path), "exp", f"train_{trial_id}_{index}"),
            resources=Resources(),
            experiment_tag=str(index),
            trainable_name="train",
        )

    return make


def _result(step: int, **metrics: Any) -> dict[str, Any]:
    return {
        **metrics,
        "done": False,
        "training_iteration": step,
        "trial_id": "abcde_00000",
        "time_this_iter_s": 0.01,
        "time_total_s": 0.01 * step,
        "time_since_restore": 0.01 * step,
        "iterations_since_restore": step,
        "timestamp": 1700000000 + step,
        "date": "2026-01-01_00-00-00",
        "pid": 1234,
        "hostname": "host",
        "node_ip": "127.0.0.1",
        "config": {"lr": 0.1, "layers": 2},
    }


@pytest.fixture
def make_result() -> Callable[..., dict[str, Any]]:
    """``make_result(step, loss=...)``: a result as the runtime completes it."""
    return _result
