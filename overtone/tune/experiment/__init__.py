"""``overtone.tune.experiment``: ``Experiment``, ``Trial`` and ``run_experiments``, as in Ray.

An ``Experiment`` holds the settings of one ``tune.run`` (its name, trainable, config, stop,
resources...); ``tune.run(experiment)`` and ``tune.run_experiments([...])`` run it.
"""

from __future__ import annotations

from overtone._classic import Experiment, run_experiments
from overtone.tune.experiment.trial import Trial

__all__ = ["Experiment", "Trial", "run_experiments"]
