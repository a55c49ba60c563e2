"""Trial schedulers (``overtone.tune.schedulers``)."""

from overtone.schedulers._base import Decision, TrialRestart, TrialScheduler
from overtone.schedulers._fifo import FIFOScheduler

__all__ = ["Decision", "FIFOScheduler", "TrialRestart", "TrialScheduler"]
