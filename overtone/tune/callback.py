"""``overtone.tune.callback``: ``Callback``, as ``ray.tune.callback`` names it."""

from overtone.callbacks import Callback

__all__ = ["Callback"]
