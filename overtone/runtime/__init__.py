"""What runs inside a trial: the session behind ``tune.report``, trainable classes, wrappers."""

from overtone.runtime._current import TrialFacts, current_trial, on_trial_exit
from overtone.runtime._session import (
    TuneContext,
    checkpoint_dir,
    get_checkpoint,
    get_context,
    report,
)
from overtone.runtime._trainable import Trainable
from overtone.runtime._wrappers import with_parameters, with_resources

__all__ = [
    "Trainable",
    "TrialFacts",
    "TuneContext",
    "checkpoint_dir",
    "current_trial",
    "get_checkpoint",
    "get_context",
    "on_trial_exit",
    "report",
    "with_parameters",
    "with_resources",
]
