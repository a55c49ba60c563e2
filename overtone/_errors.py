"""Exceptions raised by Overtone.

Hierarchy::

    TuneError (Exception)            an experiment could not complete as asked
    ├── TrialFailedError             one or more trials ended in ERROR
    ├── TrialError                   the failure of one trial, with its traceback
    ├── ExperimentStateError         (also a ValueError) a missing or corrupted state file
    └── MetricNotFoundError          (also a KeyError) a metric no trial reported
        └── NoBestResultError        (also a RuntimeError) no trial reported the metric
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
