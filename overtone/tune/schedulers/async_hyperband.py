"""``overtone.tune.schedulers.async_hyperband``: ASHA, as in Ray."""

from overtone.schedulers._async_hyperband import ASHAScheduler, AsyncHyperBandScheduler

__all__ = ["ASHAScheduler", "AsyncHyperBandScheduler"]
