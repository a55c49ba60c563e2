"""Trial schedulers (``overtone.tune.schedulers``)."""

from overtone.schedulers._async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
from overtone.schedulers._base import Decision, TrialRestart, TrialScheduler
from overtone.schedulers._bohb import HyperBandForBOHB
from overtone.schedulers._create import create_scheduler
from overtone.schedulers._fifo import FIFOScheduler
from overtone.schedulers._hyperband import HyperBandScheduler
from overtone.schedulers._median import MedianStoppingRule
from overtone.schedulers._pb2 import PB2
from overtone.schedulers._pbt import PopulationBasedTraining
from overtone.schedulers._pbt_replay import PopulationBasedTrainingReplay
from overtone.schedulers._resource_changing import (
    DistributeResources,
    DistributeResourcesToTopJob,
    ResourceChangingScheduler,
)

__all__ = [
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "Decision",
    "DistributeResources",
    "DistributeResourcesToTopJob",
    "FIFOScheduler",
    "HyperBandForBOHB",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PB2",
    "PopulationBasedTraining",
    "PopulationBasedTrainingReplay",
    "ResourceChangingScheduler",
    "TrialRestart",
    "TrialScheduler",
    "create_scheduler",
]
