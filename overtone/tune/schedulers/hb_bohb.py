"""``overtone.tune.schedulers.hb_bohb``: HyperBand for BOHB, as in Ray."""

from overtone.schedulers._bohb import HyperBandForBOHB

__all__ = ["HyperBandForBOHB"]
