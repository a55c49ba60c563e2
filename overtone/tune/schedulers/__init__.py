"""``overtone.tune.schedulers``: trial schedulers."""

from overtone.schedulers import *  # noqa: F403
from overtone.schedulers import __all__  # noqa: F401
