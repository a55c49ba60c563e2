"""``overtone.tune.search.bayesopt``: the ``ray.tune.search.bayesopt`` names."""

from overtone.search.bayesopt import BayesOptSearch

__all__ = ["BayesOptSearch"]
