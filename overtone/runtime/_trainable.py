"""The class API: subclass ``tune.Trainable`` and implement ``setup`` and ``step``."""

from __future__ import annotations

from typing import Any


class Trainable:
    """A trial as an object: ``setup`` once, ``step`` once per result.

    Example::

        class MyTrainable(tune.Trainable):
            def setup(self, config):
                self.x = config["x"]

            def step(self):
                self.x *= 0.9
                return {"loss": self.x}

    ``step`` returns a dict of metrics; a result with ``done=True`` ends the trial.
    ``save_checkpoint(checkpoint_dir)`` writes state into the given directory and
    ``load_checkpoint(checkpoint_dir)`` reads it back when the trial resumes.
    """

    def __init__(self, config: dict[str, Any] | None = None, **setup_kwargs: Any) -> None:
        self.config: dict[str, Any] = config or {}
        self._iteration = 0
        self.setup(self.config, **setup_kwargs) if setup_kwargs else self.setup(self.config)

    @property
    def iteration(self) -> int:
        """How many results this trainable has produced."""
        return self._iteration

    @property
    def training_iteration(self) -> int:
        return self._iteration

    def setup(self, config: dict[str, Any]) -> None:
        """Set up the trial's state from its config."""

    def step(self) -> dict[str, Any]:
        """Run one unit of training and return its metrics."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any] | None:
        """Write the trial's state into ``checkpoint_dir``."""
        return None

    def load_checkpoint(self, checkpoint: str | dict[str, Any] | None) -> None:
        """Restore the trial's state from a directory written by ``save_checkpoint``."""

    def cleanup(self) -> None:
        """Release what ``setup`` acquired; called when the trial ends."""

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Reuse this object for a new trial's config. Return True if it did so."""
        return False

    def stop(self) -> None:
        self.cleanup()
