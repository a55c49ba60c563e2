"""What the controller decides for a trial after a result (its stoppers and scheduler, one
:class:`Decision`), and how a scheduler's :class:`TrialRestart` changes a waiting trial."""

from __future__ import annotations

from typing import Any

from overtone._checkpoints import CheckpointBook
from overtone._experiment import ExperimentSpec, require_metric
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone._trial_state import Trial
from overtone.schedulers import Decision, TrialRestart


def decide(
    spec: ExperimentSpec,
    trial: Trial,
    result: dict[str, Any],
    snap: FrozenTrial | None,
    check_metric: bool,
) -> tuple[Decision, bool]:
    """The decision for ``trial`` after ``result``, and whether the stopper stops them all.

    ``snap`` is the trial's snapshot when the scheduler is asked (None for FIFO). A scheduler's
    restart of a trial that goes on becomes a pause, with the restart left on
    ``trial.pending_restart``.
    """
    decision = Decision.STOP if result.get("done") else Decision.CONTINUE
    stop_all = False
    stopper = spec.stopper
    if stopper is not None:
        if stopper(trial.trial_id, result):
            decision = Decision.STOP
        if stopper.stop_all():
            decision = Decision.STOP
            stop_all = True
    if snap is not None:
        if check_metric and result["iterations_since_restore"] == 1:
            require_metric(result, spec.scheduler.metric, spec.scheduler)
        chosen = spec.scheduler.on_trial_result(snap, result)
        if isinstance(chosen, TrialRestart):
            if decision == Decision.CONTINUE:  # stop it now (a class trainable saves)
                trial.pending_restart = chosen
                decision = Decision.PAUSE
        elif chosen == Decision.STOP or (
            chosen == Decision.PAUSE and decision == Decision.CONTINUE
        ):
            decision = Decision(chosen)
    return decision, stop_all


def apply_restart(trial: Trial, restart: TrialRestart, checkpoints: CheckpointBook) -> None:
    """Apply a scheduler's restart to ``trial``: new config, resources or starting checkpoint;
    it is pending again."""
    trial.pending_restart = None
    trial.close()
    if restart.config is not None:
        trial.config = restart.config
    if restart.resources is not None:
        trial.resources = Resources.coerce(restart.resources)
    if restart.checkpoint is not None:
        checkpoints.adopt(trial, restart.checkpoint)
    trial.status = TrialStatus.PENDING
