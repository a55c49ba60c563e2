"""Callbacks: observers of the experiment's events, run in the driver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from overtone._trial import FrozenTrial


class Callback:
    """Override any hook. Hooks get snapshots; what they return is ignored."""

    #: Whether the trial's folder must exist by ``on_trial_start``. It does for any callback
    #: of yours; Overtone's own loggers open their files later, which lets the worker make
    #: the folder and the files while the driver goes on (see :meth:`_trial_files`).
    _needs_trial_dir_at_start: ClassVar[bool] = True

    def _trial_files(self, trial: FrozenTrial) -> Sequence[str]:
        """Names of the files in ``trial``'s folder that this callback will append to; the
        worker creates them (empty) before the trial runs. Called before the trial starts."""
        return ()

    def setup(self, stop: Any = None, num_samples: int | None = None, **info: Any) -> None:
        """Called once before the first trial starts."""

    def on_trial_start(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None: ...

    def on_trial_result(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        result: dict[str, Any],
        **info: Any,
    ) -> None: ...

    def on_trial_complete(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None: ...

    def on_trial_error(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None: ...

    def on_checkpoint(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        checkpoint: Any,
        **info: Any,
    ) -> None: ...

    def on_experiment_end(self, trials: list[FrozenTrial], **info: Any) -> None: ...
