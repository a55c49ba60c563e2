"""Callbacks: observers of the experiment's events, run in the driver."""

from __future__ import annotations

from typing import Any

from overtone._trial import FrozenTrial


class Callback:
    """Override any hook. Hooks get snapshots; what they return is ignored."""

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
