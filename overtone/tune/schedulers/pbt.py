"""``overtone.tune.schedulers.pbt``: Population Based Training and its replay, as in Ray."""

from overtone.schedulers._pbt import PopulationBasedTraining
from overtone.schedulers._pbt_replay import PopulationBasedTrainingReplay

__all__ = ["PopulationBasedTraining", "PopulationBasedTrainingReplay"]
