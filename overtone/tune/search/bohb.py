"""``overtone.tune.search.bohb``: BOHB's searcher, as in ``ray.tune.search.bohb``."""

from overtone.search.bohb import TuneBOHB

__all__ = ["TuneBOHB"]
