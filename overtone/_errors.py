"""Exceptions raised by Overtone.

Hierarchy::

    TuneError (Exception)            an experiment could not complete as asked
    ├── TrialFailedError             one or more trials ended in ERROR
    ├── TrialError                   one trial's failure, with its traceback
    ├── ExperimentStateError         (also a ValueError) a missing or corrupted state file
    ├── MetricNotFoundError          (also a KeyError) a metric no trial reported
    │   └── NoBestResultError        (also a RuntimeError) no trial reported the metric
    ├── NotResumableError            an experiment's saved state cannot be continued
    ├── StorageFullError             (also an OSError) the disk holding the experiment is full
    └── ExperimentStalledError       (also a RuntimeError) the controller can make no progress
        ├── TrialsHeldBackError      the scheduler holds every queued trial while none runs
        └── TrialCannotStartError    a queued trial's resources never come free
    ValueError / TypeError           bad arguments, raised where the value is given
"""

from __future__ import annotations


class TuneError(Exception):
    """An experiment could not complete as asked."""


class TrialFailedError(TuneError):
    """Raised by ``tune.run`` when trials ended in ERROR and ``raise_on_failed_trial`` is set."""

    def __init__(self, message: str, trial_names: list[str]) -> None:
        super().__init__(message)
        self.trial_names = trial_names


class MetricNotFoundError(TuneError, KeyError):
    """A metric was asked for that no trial reported."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ExperimentStateError(TuneError, ValueError):
    """An ``experiment_state.json`` is missing, corrupted or of an unknown format."""


class NoBestResultError(MetricNotFoundError, RuntimeError):
    """No trial reported the metric: a ``MetricNotFoundError`` and, as in Ray, a RuntimeError."""


class TrialError(TuneError):
    """The failure of one trial, carrying the traceback text recorded in its ``error.txt``."""

    def __init__(self, trial_name: str, traceback_text: str) -> None:
        super().__init__(f"Trial {trial_name} failed:\n{traceback_text}")
        self.trial_name = trial_name
        self.traceback_text = traceback_text


class NotResumableError(TuneError):
    """An experiment cannot be continued from its saved state (e.g. its searcher's state
    could not be saved)."""


class StorageFullError(TuneError, OSError):
    """The disk (or quota) holding an experiment's files is full.

    Also an ``OSError`` with the original ``errno`` (``ENOSPC`` or ``EDQUOT``).
    """

    def __init__(self, path: str, cause: OSError) -> None:
        super().__init__(
            cause.errno,
            f"the disk holding {path} is full ({cause.strerror or cause}): free some space "
            "there, then resume the experiment (resume=True, or Tuner.restore); every result "
            "recorded so far is kept",
        )
        self.path = path

    def __str__(self) -> str:
        return str(self.args[1])


class ExperimentStalledError(TuneError, RuntimeError):
    """The controller can make no progress: trials wait, but nothing runs or can start.

    Also a ``RuntimeError``, which the controller raised before it had its own classes.
    """


class TrialsHeldBackError(ExperimentStalledError):
    """The scheduler holds every paused or pending trial back while no trial runs."""

    def __init__(self, scheduler_name: str, num_queued: int) -> None:
        super().__init__(
            f"{scheduler_name} holds {num_queued} paused or pending trials back while nothing "
            "runs: the experiment would wait forever"
        )
        self.scheduler_name = scheduler_name
        self.num_queued = num_queued


class TrialCannotStartError(ExperimentStalledError):
    """A queued trial needs resources the executor cannot give it, and none will come free."""

    def __init__(self, trial_name: str, resources: dict[str, float]) -> None:
        super().__init__(
            f"trial {trial_name} needs {resources} but nothing is running and the executor "
            "cannot start it"
        )
        self.trial_name = trial_name
        self.resources = resources
