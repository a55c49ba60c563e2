"""Reading an experiment's results back: ``ExperimentAnalysis``, ``ResultGrid`` and ``Result``."""

from overtone._pareto import hypervolume
from overtone.analysis._experiment_analysis import ExperimentAnalysis, load_experiment_state
from overtone.analysis._result import Result
from overtone.analysis._result_grid import ResultGrid
from overtone.analysis._trial_record import TrialRecord

__all__ = [
    "ExperimentAnalysis",
    "Result",
    "ResultGrid",
    "TrialRecord",
    "hypervolume",
    "load_experiment_state",
]
