"""``create_scheduler``: a scheduler by name, as in ``ray.tune.schedulers``."""

from __future__ import annotations

import importlib
from typing import Any

from overtone.schedulers._base import TrialScheduler

_NAMES = {
    "fifo": "FIFOScheduler",
    "async_hyperband": "AsyncHyperBandScheduler",
    "asynchyperband": "AsyncHyperBandScheduler",
    "median_stopping_rule": "MedianStoppingRule",
    "medianstopping": "MedianStoppingRule",
    "hyperband": "HyperBandScheduler",
    "hb_bohb": "HyperBandForBOHB",
    "pbt": "PopulationBasedTraining",
    "pbt_replay": "PopulationBasedTrainingReplay",
    "pb2": "PB2",
    "resource_changing": "ResourceChangingScheduler",
}


def create_scheduler(scheduler: str, **kwargs: Any) -> TrialScheduler:
    """A scheduler by its short name (``"async_hyperband"``, ``"pbt"``...), made with
    ``kwargs``."""
    name = _NAMES.get(str(scheduler).lower())
    if name is None:
        raise ValueError(f"scheduler is {scheduler!r}, but must be one of {sorted(_NAMES)}")
    cls = getattr(importlib.import_module("overtone.schedulers"), name)
    return cls(**kwargs)
