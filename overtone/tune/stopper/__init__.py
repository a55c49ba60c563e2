"""``overtone.tune.stopper``: stopping criteria."""

from overtone.stopper import *  # noqa: F403
from overtone.stopper import __all__  # noqa: F401
