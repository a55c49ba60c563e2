"""``overtone.tune.schedulers.trial_scheduler``: the interface and FIFO, as in Ray."""

from overtone.schedulers import FIFOScheduler, TrialScheduler

__all__ = ["FIFOScheduler", "TrialScheduler"]
