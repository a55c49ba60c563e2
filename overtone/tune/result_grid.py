"""``overtone.tune.result_grid``: ``ResultGrid``, as ``ray.tune.result_grid`` names it."""

from overtone.analysis import ResultGrid

__all__ = ["ResultGrid"]
