"""The executor interface: where trials run.

The controller hands an executor trials to start and decisions to deliver, and collects
events from it. Every executor (local worker processes, Dask, Ray) implements this one
small interface and passes the same conformance tests.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from overtone._trial import Decision, Resources
from overtone.runtime._session import TrialInfo


@dataclass(frozen=True, slots=True)
class ResultEvent:
    """A trial reported a result and now waits for a decision (``send_decision``)."""

    trial_id: str
    result: dict[str, Any]
    checkpoint_dirname: str | None


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """A trial's code returned (or obeyed a STOP). Its resources are free again."""

    trial_id: str


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """A trial failed: its code raised, or its process died. Its resources are free again."""

    trial_id: str
    error: str


Event = ResultEvent | DoneEvent | ErrorEvent


class Executor(abc.ABC):
    """Runs trials somewhere and streams their events back."""

    #: Whether its workers may make the next trial's folder while they wait for it (as a
    #: hidden ``.spare-*`` folder in the experiment's, renamed when the trial comes) and
    #: remove what is left when the executor shuts down. See ``runtime._runner.TrialDirs``.
    prepares_ahead: bool = False

    @abc.abstractmethod
    def setup(self, trainable_key: str, trainable_blob: bytes) -> None:
        """Receive the pickled trainable once per experiment (shipped once per worker)."""

    @abc.abstractmethod
    def total_resources(self) -> Resources:
        """Everything this executor could ever give one trial, to reject impossible asks."""

    @abc.abstractmethod
    def can_start(self, resources: Resources) -> bool:
        """Whether a trial asking for ``resources`` could start now."""

    @abc.abstractmethod
    def start_trial(self, info: TrialInfo, resources: Resources) -> None:
        """Start a trial; its resources are held until its Done or Error event.

        Raises:
            ConfigNotSendableError: the trial's config cannot be sent where it would run
                (pickling a ``TrialInfo`` raises it); nothing started and nothing is held,
                and the controller fails the trial with that message.
        """

    @abc.abstractmethod
    def send_decision(self, trial_id: str, decision: Decision) -> None:
        """Answer a ResultEvent: go on, stop, or pause (end now; it resumes later from its
        checkpoint). A trial that stops or pauses ends with a DoneEvent, which frees its
        resources."""

    @abc.abstractmethod
    def kill_trial(self, trial_id: str) -> None:
        """End a running trial now, without waiting for its next result; no event follows."""

    @abc.abstractmethod
    def wait(self, timeout: float | None) -> list[Event]:
        """Events that happened, waiting at most ``timeout`` seconds for the first."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop every worker; called once at the end of the experiment."""
