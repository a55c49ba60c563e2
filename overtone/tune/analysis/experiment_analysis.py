"""``overtone.tune.analysis.experiment_analysis``: as Ray's module of the same name."""

from overtone.analysis import ExperimentAnalysis

__all__ = ["ExperimentAnalysis"]
