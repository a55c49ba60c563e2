"""``overtone.tune.search.concurrency_limiter``: ``ConcurrencyLimiter``, as in Ray."""

from overtone.search import ConcurrencyLimiter

__all__ = ["ConcurrencyLimiter"]
