"""Reading an experiment's results back: ``ExperimentAnalysis``, ``ResultGrid`` and ``Result``."""

from typing import Any

from overtone.analysis._experiment_analysis import ExperimentAnalysis, load_experiment_state
from overtone.analysis._result import Result
from overtone.analysis._result_grid import ResultGrid
from overtone.analysis._trial_record import TrialRecord


def __getattr__(name: str) -> Any:
    if name == "hypervolume":  # numpy, loaded when first used
        from overtone._pareto import hypervolume

        return hypervolume
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ExperimentAnalysis",
    "Result",
    "ResultGrid",
    "TrialRecord",
    "hypervolume",
    "load_experiment_state",
]
