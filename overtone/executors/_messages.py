"""The messages between the driver and the processes that run trials.

Every executor speaks this protocol with its trial processes (the local executor's workers,
the Dask executor's trial processes through their task), pickled over a
``multiprocessing.connection.Connection``:

driver -> process: :class:`LoadTrainable` | :class:`RunTrial` | :class:`Exit`
                   | a :class:`~overtone._trial.Decision`, the answer to a ``ResultEvent``
process -> driver: :class:`~overtone.executors._base.ResultEvent` (then, unless the trial
                   streams without waiting, it waits for the decision)
                   | :class:`~overtone.executors._base.DoneEvent`
                   | :class:`~overtone.executors._base.ErrorEvent` | :class:`Bye`

Between a Dask task and the driver (see ``_dask_task``) travel the same events plus:

task -> driver:    :class:`Beat` | :class:`TrialLost` (the trial failed and its task ends)
driver -> task:    a ``Decision`` | :class:`NextTrial` | :class:`Ping`

The events the processes send are the executor's own events (``_base``): the driver hands
them to the controller as they come.
"""

from __future__ import annotations

from dataclasses import dataclass

from overtone._trial import Decision
from overtone.executors._base import DoneEvent, ErrorEvent, ResultEvent
from overtone.runtime._session import TrialInfo

__all__ = [
    "Beat",
    "Bye",
    "Decision",
    "DoneEvent",
    "ErrorEvent",
    "Exit",
    "LoadTrainable",
    "NextTrial",
    "Ping",
    "ResultEvent",
    "RunTrial",
    "TrialLost",
]


@dataclass(frozen=True, slots=True)
class LoadTrainable:
    """The pickled trainable, sent once per process and experiment."""

    key: str
    blob: bytes


@dataclass(frozen=True, slots=True)
class RunTrial:
    """Run this trial with the trainable loaded under ``key``."""

    key: str
    info: TrialInfo


@dataclass(frozen=True, slots=True)
class Exit:
    """Clean up (spare trial folder, kept trainables), answer :class:`Bye` and exit."""


@dataclass(frozen=True, slots=True)
class Bye:
    """The process cleaned up and exits."""


@dataclass(frozen=True, slots=True)
class NextTrial:
    """The next trial for a Dask task whose trial ended (it holds the same resources)."""

    info: TrialInfo


@dataclass(frozen=True, slots=True)
class Ping:
    """The driver is alive (to a Dask task, where TCP cannot tell)."""


@dataclass(frozen=True, slots=True)
class Beat:
    """The Dask task is alive (sent when it has said nothing else for a while)."""


@dataclass(frozen=True, slots=True)
class TrialLost:
    """The trial failed and its Dask task ends with it (its worker is leaving, or cannot
    run it): the driver starts it elsewhere."""

    trial_id: str
    error: str
