"""``overtone.tune.schedulers.resource_changing_scheduler``: as Ray's module of that name."""

from overtone.schedulers._resource_changing import (
    DistributeResources,
    DistributeResourcesToTopJob,
    ResourceChangingScheduler,
)

__all__ = ["DistributeResources", "DistributeResourcesToTopJob", "ResourceChangingScheduler"]
