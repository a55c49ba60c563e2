"""``overtone.tune.search.variant_generator``: ``grid_search``, as in Ray."""

from overtone.search import grid_search

__all__ = ["grid_search"]
