"""``overtone.tune.error``: ``TuneError``, as ``ray.tune.error`` names it."""

from overtone._errors import TuneError

__all__ = ["TuneError"]
