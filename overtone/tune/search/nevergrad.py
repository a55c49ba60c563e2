"""``overtone.tune.search.nevergrad``: the ``ray.tune.search.nevergrad`` names."""

from overtone.search.nevergrad import NevergradSearch

__all__ = ["NevergradSearch"]
