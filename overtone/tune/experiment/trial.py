"""``overtone.tune.experiment.trial``: ``Trial``, as ``ray.tune.experiment.trial`` names it.

Ray's ``Trial`` is its controller's mutable record of a trial; user code meets it in callbacks,
``trial_name_creator`` and the results of ``tune.run_experiments``. Overtone hands those an
immutable snapshot (``FrozenTrial``) or, after the run, a ``TrialRecord``; ``Trial`` names both
for type hints and ``isinstance``, and carries Ray's status constants (``Trial.TERMINATED``).
Trials are made by the experiment, never by user code.
"""

from __future__ import annotations

from typing import Any

from overtone._trial import FrozenTrial, TrialStatus


class _TrialType(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        from overtone.analysis._trial_record import TrialRecord

        return isinstance(obj, (FrozenTrial, TrialRecord))

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "tune.experiment.Trial cannot be made by user code: trials are made by the "
            "experiment; callbacks and name creators receive them"
        )


class Trial(metaclass=_TrialType):
    """A trial of an experiment (see the module's docstring)."""

    PENDING = TrialStatus.PENDING
    RUNNING = TrialStatus.RUNNING
    PAUSED = TrialStatus.PAUSED
    TERMINATED = TrialStatus.TERMINATED
    ERROR = TrialStatus.ERROR


__all__ = ["Trial"]
