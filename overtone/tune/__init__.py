"""The public API of Overtone, a drop-in for ``ray.tune``.

Example::

    from overtone import tune

    def train(config):
        for step in range(10):
            tune.report(loss=(config["x"] - 3) ** 2 / (step + 1))

    analysis = tune.run(train, config={"x": tune.uniform(0, 10)}, num_samples=8)
    print(analysis.get_best_config(metric="loss", mode="min"))
"""

from overtone._errors import MetricNotFoundError, TrialError, TrialFailedError, TuneError
from overtone._run import run
from overtone._trial import Resources, TrialStatus
from overtone._tuner import Tuner
from overtone.analysis import ExperimentAnalysis, Result, ResultGrid
from overtone.callbacks import Callback
from overtone.checkpoint import Checkpoint
from overtone.config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig
from overtone.executors import Executor, LocalExecutor
from overtone.progress import CLIReporter, ProgressReporter
from overtone.runtime import (
    Trainable,
    TuneContext,
    get_checkpoint,
    get_context,
    report,
    with_parameters,
    with_resources,
)
from overtone.search import (
    choice,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)
from overtone.stopper import Stopper
from overtone.tune import schedulers, search, stopper

__all__ = [
    "CLIReporter",
    "Callback",
    "Checkpoint",
    "CheckpointConfig",
    "Executor",
    "ExperimentAnalysis",
    "FailureConfig",
    "LocalExecutor",
    "MetricNotFoundError",
    "ProgressReporter",
    "Resources",
    "Result",
    "ResultGrid",
    "RunConfig",
    "Stopper",
    "Trainable",
    "TrialError",
    "TrialFailedError",
    "TrialStatus",
    "TuneConfig",
    "TuneContext",
    "TuneError",
    "Tuner",
    "choice",
    "get_checkpoint",
    "get_context",
    "grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "report",
    "run",
    "sample_from",
    "schedulers",
    "search",
    "stopper",
    "uniform",
    "with_parameters",
    "with_resources",
]
