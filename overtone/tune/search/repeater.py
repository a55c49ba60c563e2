"""``overtone.tune.search.repeater``: ``Repeater``, as in Ray."""

from overtone.search import Repeater

__all__ = ["Repeater"]
