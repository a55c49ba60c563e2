"""``overtone.tune.tuner``: ``Tuner``, as ``ray.tune.tuner`` names it."""

from overtone._tuner import Tuner

__all__ = ["Tuner"]
