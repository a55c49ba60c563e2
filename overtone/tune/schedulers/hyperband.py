"""``overtone.tune.schedulers.hyperband``: HyperBand, as in Ray."""

from overtone.schedulers._hyperband import HyperBandScheduler

__all__ = ["HyperBandScheduler"]
