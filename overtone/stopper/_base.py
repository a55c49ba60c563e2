"""The stopper interface."""

from __future__ import annotations

from typing import Any


class Stopper:
    """Decides from results when a trial, or the whole experiment, should stop.

    ``__call__(trial_id, result)`` returns True to stop that trial; ``stop_all()`` returns
    True to stop every trial.
    """

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        raise NotImplementedError

    def stop_all(self) -> bool:
        raise NotImplementedError
