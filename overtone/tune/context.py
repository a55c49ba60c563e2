"""``overtone.tune.context``: the trial context, as ``ray.tune.context`` names it."""

from overtone.runtime import TuneContext, get_context

__all__ = ["TuneContext", "get_context"]
