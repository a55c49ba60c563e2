"""Choosing which waiting trial (pending or paused) the controller starts next, when a
scheduler other than FIFO orders the queue."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from overtone._errors import TrialCannotStartError, TrialsHeldBackError
from overtone._experiment import ExperimentSpec
from overtone._trial import TrialStatus
from overtone._trial_state import Trial
from overtone.schedulers import TrialRestart, TrialScheduler


def choose_queued(
    scheduler: TrialScheduler,
    queue: deque[Trial],
    trials: dict[str, Trial],
    finish: Callable[[Trial, TrialStatus], None],
    restart: Callable[[Trial, TrialRestart], None],
) -> Trial | None:
    """The queued trial the scheduler starts next, or None if it holds them all back.

    The trials it stops first leave ``queue`` through ``finish``; a chosen trial with a
    restart decided while it waited leaves it through ``restart`` (which queues it again).
    """
    for snap in scheduler.trials_to_stop([t.snapshot() for t in queue]):
        trial = trials[snap.trial_id]
        if trial in queue:
            queue.remove(trial)
            finish(trial, TrialStatus.TERMINATED)
    if not queue:
        return None
    chosen = scheduler.choose_trial_to_run([t.snapshot() for t in queue])
    if chosen is None:
        return None
    trial = trials[chosen.trial_id]
    change = scheduler.pending_restart(chosen)
    if change is not None:  # e.g. synchronous PBT's exploit, decided while it waited
        queue.remove(trial)
        restart(trial, change)  # puts it back at the front of the queue
    return trial


def startable_held_back(
    spec: ExperimentSpec, chosen: Trial | None, queue: deque[Trial]
) -> Trial | None:
    """When nothing runs yet trials wait: the scheduler's ``chosen`` trial to start, or None
    if the scheduler ended them all; else why nothing can run, raised."""
    if chosen is None and not queue:  # the scheduler ended them all
        return None
    if chosen is None:
        raise TrialsHeldBackError(type(spec.scheduler).__name__, len(queue))
    if not spec.executor.can_start(chosen.resources):  # resources never free up
        raise TrialCannotStartError(chosen.trial_name, chosen.resources.to_dict())
    return chosen
