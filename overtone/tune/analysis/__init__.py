"""``overtone.tune.analysis``: ``ExperimentAnalysis``, as ``ray.tune.analysis`` names it."""

from overtone.analysis import ExperimentAnalysis

__all__ = ["ExperimentAnalysis"]
