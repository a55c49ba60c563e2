"""``overtone.tune.tune``: ``run`` and ``run_experiments``, as ``ray.tune.tune`` names them."""

from overtone._run import run
from overtone.tune.experiment import run_experiments

__all__ = ["run", "run_experiments"]
