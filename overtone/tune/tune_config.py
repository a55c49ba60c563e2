"""``overtone.tune.tune_config``: ``TuneConfig``, as ``ray.tune.tune_config`` names it."""

from overtone.config import TuneConfig

__all__ = ["TuneConfig"]
