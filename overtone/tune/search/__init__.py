"""``overtone.tune.search``: searchers and the search space, as ``ray.tune.search``."""

from overtone.search import *  # noqa: F403
from overtone.search import Searcher as SearchAlgorithm
from overtone.search import __all__ as _core_all
from overtone.search._factories import create_searcher

__all__ = [*_core_all, "SearchAlgorithm", "create_searcher"]
