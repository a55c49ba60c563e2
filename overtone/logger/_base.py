"""The base of the logger callbacks: per-trial hooks instead of experiment-wide ones."""

from __future__ import annotations

import os
from typing import Any

from overtone._trial import FrozenTrial
from overtone.callbacks._base import Callback

#: Result keys that are bookkeeping, not measurements: never logged as metrics.
NON_METRIC_KEYS = frozenset(
    {
        "config", "date", "done", "experiment_id", "experiment_tag", "hostname", "node_ip",
        "pid", "should_checkpoint", "checkpoint_dir_name", "timestamp", "trial_id",
    }
)  # fmt: skip


class LoggerCallback(Callback):
    """A callback that logs each trial on its own: override the ``log_trial_*`` methods.

    The controller's hooks are mapped onto them: ``on_trial_start`` calls
    :meth:`log_trial_start` (again when a paused or failed trial restarts),
    ``on_trial_result`` :meth:`log_trial_result`, ``on_checkpoint`` :meth:`log_trial_save`,
    and ``on_trial_complete`` / ``on_trial_error`` :meth:`log_trial_end`.

    Example::

        class PrintLogger(LoggerCallback):
            def log_trial_result(self, iteration, trial, result):
                print(trial.trial_name, result["training_iteration"], result.get("loss"))

        tune.run(train, callbacks=[PrintLogger()])
    """

    def log_trial_start(self, trial: FrozenTrial) -> None:
        """The trial starts, or starts again after a pause or a failure."""

    def log_trial_result(self, iteration: int, trial: FrozenTrial, result: dict[str, Any]) -> None:
        """The trial reported ``result``."""

    def log_trial_save(self, trial: FrozenTrial) -> None:
        """The trial saved a checkpoint."""

    def log_trial_end(self, trial: FrozenTrial, failed: bool = False) -> None:
        """The trial finished; ``failed`` when it ended with an error."""

    def on_trial_start(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        self.log_trial_start(trial)

    def on_trial_result(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        self.log_trial_result(iteration, trial, result)

    def on_checkpoint(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        checkpoint: Any,
        **info: Any,
    ) -> None:
        self.log_trial_save(trial)

    def on_trial_complete(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        self.log_trial_end(trial, failed=False)

    def on_trial_error(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        self.log_trial_end(trial, failed=True)


def is_number(value: Any) -> bool:
    """A real number that a metric store can hold: ints, floats and numpy scalars, not bools."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    # numpy scalars without importing numpy: 0-d, with a numeric dtype
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return kind in ("i", "u", "f") and getattr(value, "shape", None) == ()


def metric_items(flat: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a flattened result, as floats, bookkeeping keys left out."""
    out: dict[str, float] = {}
    for key, value in flat.items():
        if key.split("/", 1)[0] in NON_METRIC_KEYS:
            continue
        if type(value) is float or type(value) is int or is_number(value):
            out[key] = float(value)
    return out


def experiment_name_of(trial: FrozenTrial) -> str:
    """The experiment's name: the name of the folder that holds the trial's folder."""
    parent = os.path.dirname(trial.path.rstrip("/\\"))
    return os.path.basename(parent) or trial.trainable_name
