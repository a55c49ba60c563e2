"""``overtone.tune.search.search_algorithm``: ``SearchAlgorithm``, as in Ray.

Ray has two layers, ``SearchAlgorithm`` (what its controller drives) and ``Searcher``
(wrapped into one). Overtone's controller drives a ``Searcher`` directly, so
``SearchAlgorithm`` is the same class: subclass ``Searcher``.
"""

from overtone.search import Searcher as SearchAlgorithm

__all__ = ["SearchAlgorithm"]
