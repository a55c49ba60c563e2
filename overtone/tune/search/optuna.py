"""``overtone.tune.search.optuna``: the ``ray.tune.search.optuna`` names."""

from overtone.search.optuna import OptunaSearch

__all__ = ["OptunaSearch"]
