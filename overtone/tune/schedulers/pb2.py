"""``overtone.tune.schedulers.pb2``: Population Based Bandits, as in Ray."""

from overtone.schedulers._pb2 import PB2

__all__ = ["PB2"]
