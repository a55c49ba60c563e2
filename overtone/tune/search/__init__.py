"""``overtone.tune.search``: searchers and the search space."""

from overtone.search import *  # noqa: F403
from overtone.search import __all__  # noqa: F401

