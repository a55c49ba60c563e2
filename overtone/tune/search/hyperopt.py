"""``overtone.tune.search.hyperopt``: the ``ray.tune.search.hyperopt`` names."""

from overtone.search.hyperopt import HyperOptSearch

__all__ = ["HyperOptSearch"]
