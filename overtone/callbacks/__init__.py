"""Experiment callbacks (``overtone.tune.Callback``)."""

from overtone.callbacks._base import Callback

__all__ = ["Callback"]
