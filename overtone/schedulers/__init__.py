"""Trial schedulers (``overtone.tune.schedulers``).

The interface and FIFO load with the package; each algorithm loads when first named, so
that an experiment pays only for the scheduler it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

from overtone.schedulers._base import Decision, TrialRestart, TrialScheduler
from overtone.schedulers._fifo import FIFOScheduler

_LAZY = {
    "ASHAScheduler": "_async_hyperband",
    "AsyncHyperBandScheduler": "_async_hyperband",
    "DistributeResources": "_resource_changing",
    "DistributeResourcesToTopJob": "_resource_changing",
    "HyperBandForBOHB": "_bohb",
    "HyperBandScheduler": "_hyperband",
    "MedianStoppingRule": "_median",
    "PB2": "_pb2",
    "PopulationBasedTraining": "_pbt",
    "PopulationBasedTrainingReplay": "_pbt_replay",
    "ResourceChangingScheduler": "_resource_changing",
    "create_scheduler": "_create",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'overtone.schedulers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"overtone.schedulers.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "Decision",
    "DistributeResources",
    "DistributeResourcesToTopJob",
    "FIFOScheduler",
    "HyperBandForBOHB",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PB2",
    "PopulationBasedTraining",
    "PopulationBasedTrainingReplay",
    "ResourceChangingScheduler",
    "TrialRestart",
    "TrialScheduler",
    "create_scheduler",
]
