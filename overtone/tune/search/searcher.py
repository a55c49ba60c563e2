"""``overtone.tune.search.searcher``: the ``Searcher`` interface, as in Ray."""

from overtone.search import Searcher

__all__ = ["Searcher"]
