"""``overtone.tune.schedulers.median_stopping_rule``: the median stopping rule, as in Ray."""

from overtone.schedulers._median import MedianStoppingRule

__all__ = ["MedianStoppingRule"]
