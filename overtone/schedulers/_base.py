"""The trial scheduler interface: decides, per result, whether a trial goes on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Decision lives beside TrialStatus, so that executors deliver it without importing plugins.
from overtone._trial import Decision, FrozenTrial
from overtone.schedulers._util import check_modes


@dataclass(frozen=True)
class TrialRestart:
    """A decision to stop a trial now and start it again, changed.

    PBT's exploit is a restart from another trial's checkpoint with a new config; a
    resource change is a restart from the trial's own latest checkpoint with new resources.

    Args:
        config: the new config (default: unchanged).
        checkpoint: a checkpoint directory to continue from (default: the trial's own latest).
        resources: new resources, a dict or ``Resources`` (default: unchanged).
    """

    config: dict[str, Any] | None = None
    checkpoint: str | None = None
    resources: Any = None


class TrialScheduler:
    """Decides what happens to trials as their results arrive.

    Schedulers receive :class:`~overtone._trial.FrozenTrial` snapshots and return a
    :class:`Decision`; they never act on trials themselves.
    """

    #: Whether it accepts a list of metrics (and modes) and ranks trials by Pareto front.
    supports_multi_objective = False

    CONTINUE = Decision.CONTINUE
    PAUSE = Decision.PAUSE
    STOP = Decision.STOP
    NOOP = Decision.CONTINUE

    def __init__(
        self, metric: str | list[str] | None = None, mode: str | list[str] | None = None
    ) -> None:
        check_modes(mode)
        self._metric = metric
        self._mode = mode

    @property
    def metric(self) -> str | list[str] | None:
        return self._metric

    @property
    def mode(self) -> str | list[str] | None:
        return self._mode

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if self._metric is None and metric is not None:
            self._metric = metric
        if self._mode is None and mode is not None:
            self._mode = mode
        return True

    def on_trial_add(self, trial: FrozenTrial) -> None:
        """A trial was created."""

    def on_trial_result(
        self, trial: FrozenTrial, result: dict[str, Any]
    ) -> Decision | TrialRestart:
        return Decision.CONTINUE

    def on_trial_complete(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        """A trial ended normally."""

    def on_trial_error(self, trial: FrozenTrial) -> None:
        """A trial ended in ERROR."""

    def on_trial_remove(self, trial: FrozenTrial) -> None:
        """A trial was stopped by a decision other than this scheduler's."""

    def choose_trial_to_run(self, candidates: list[FrozenTrial]) -> FrozenTrial | None:
        """Pick which pending or paused trial starts next (default: first come, first run).

        Returning None holds them all back for now; new trials may still be created."""
        return candidates[0] if candidates else None

    def trials_to_stop(self, queued: list[FrozenTrial]) -> list[FrozenTrial]:
        """Pending or paused trials to end now, without running them again."""
        return []

    def pending_restart(self, trial: FrozenTrial) -> TrialRestart | None:
        """A change to apply to a queued trial just before it starts again (or None)."""
        return None

    def get_state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def debug_string(self) -> str:
        return f"Using {type(self).__name__}."
