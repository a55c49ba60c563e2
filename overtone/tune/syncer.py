"""``overtone.tune.syncer``: ``SyncConfig``, as ``ray.tune.syncer`` names it."""

from overtone.config import SyncConfig

__all__ = ["SyncConfig"]
