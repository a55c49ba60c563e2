"""The public API of Overtone, a drop-in for ``ray.tune``.

Example::

    from overtone import tune

    def train(config):
        for step in range(10):
            tune.report(loss=(config["x"] - 3) ** 2 / (step + 1))

    analysis = tune.run(train, config={"x": tune.uniform(0, 10)}, num_samples=8)
    print(analysis.get_best_config(metric="loss", mode="min"))
"""

import importlib
from typing import Any

# The facade imports lazily: trial code in a worker touches only ``tune.report`` and should
# not pay for the controller, pandas or numpy.
_LAZY = {
    "Experiment": ("overtone.tune.experiment", "Experiment"),
    "ResumeConfig": ("overtone.config", "ResumeConfig"),
    "PlacementGroupFactory": ("overtone.tune.execution.placement_groups", "PlacementGroupFactory"),
    "SyncConfig": ("overtone.config", "SyncConfig"),
    "get_trial_dir": ("overtone.tune.session", "get_trial_dir"),
    "get_trial_id": ("overtone.tune.session", "get_trial_id"),
    "get_trial_name": ("overtone.tune.session", "get_trial_name"),
    "get_trial_resources": ("overtone.tune.session", "get_trial_resources"),
    "is_session_enabled": ("overtone.tune.session", "is_session_enabled"),
    "register_trainable": ("overtone.tune.registry", "register_trainable"),
    "run_experiments": ("overtone.tune.experiment", "run_experiments"),
    "CLIReporter": ("overtone.progress", "CLIReporter"),
    "Callback": ("overtone.callbacks", "Callback"),
    "Checkpoint": ("overtone.checkpoint", "Checkpoint"),
    "CheckpointConfig": ("overtone.config", "CheckpointConfig"),
    "DaskExecutor": ("overtone.executors", "DaskExecutor"),
    "Executor": ("overtone.executors", "Executor"),
    "ExperimentAnalysis": ("overtone.analysis", "ExperimentAnalysis"),
    "FailureConfig": ("overtone.config", "FailureConfig"),
    "LocalExecutor": ("overtone.executors", "LocalExecutor"),
    "MetricNotFoundError": ("overtone._errors", "MetricNotFoundError"),
    "JupyterNotebookReporter": ("overtone.progress", "JupyterNotebookReporter"),
    "ProgressReporter": ("overtone.progress", "ProgressReporter"),
    "Resources": ("overtone._trial", "Resources"),
    "Result": ("overtone.analysis", "Result"),
    "ResultGrid": ("overtone.analysis", "ResultGrid"),
    "RunConfig": ("overtone.config", "RunConfig"),
    "Stopper": ("overtone.stopper", "Stopper"),
    "Trainable": ("overtone.runtime", "Trainable"),
    "TrialError": ("overtone._errors", "TrialError"),
    "TrialFailedError": ("overtone._errors", "TrialFailedError"),
    "TrialStatus": ("overtone._trial", "TrialStatus"),
    "TuneConfig": ("overtone.config", "TuneConfig"),
    "TuneContext": ("overtone.runtime", "TuneContext"),
    "TuneError": ("overtone._errors", "TuneError"),
    "Tuner": ("overtone._tuner", "Tuner"),
    "checkpoint_dir": ("overtone.runtime", "checkpoint_dir"),
    "choice": ("overtone.space", "choice"),
    "create_scheduler": ("overtone.schedulers", "create_scheduler"),
    "create_searcher": ("overtone.search._factories", "create_searcher"),
    "get_checkpoint": ("overtone.runtime", "get_checkpoint"),
    "logger": ("overtone.tune.logger", None),
    "get_context": ("overtone.runtime", "get_context"),
    "grid_search": ("overtone.space", "grid_search"),
    "replay": ("overtone._replay", "replay"),
    "SimulatedExecutor": ("overtone.executors", "SimulatedExecutor"),
    "hypervolume": ("overtone.analysis", "hypervolume"),
    "lograndint": ("overtone.space", "lograndint"),
    "loguniform": ("overtone.space", "loguniform"),
    "qlograndint": ("overtone.space", "qlograndint"),
    "qloguniform": ("overtone.space", "qloguniform"),
    "qrandint": ("overtone.space", "qrandint"),
    "qrandn": ("overtone.space", "qrandn"),
    "quniform": ("overtone.space", "quniform"),
    "randint": ("overtone.space", "randint"),
    "randn": ("overtone.space", "randn"),
    "report": ("overtone.runtime", "report"),
    "run": ("overtone._run", "run"),
    "sample_from": ("overtone.space", "sample_from"),
    "schedulers": ("overtone.tune.schedulers", None),
    "search": ("overtone.tune.search", None),
    "stopper": ("overtone.tune.stopper", None),
    "uniform": ("overtone.space", "uniform"),
    "with_parameters": ("overtone.runtime", "with_parameters"),
    "with_resources": ("overtone.runtime", "with_resources"),
}


# Submodules that ``ray.tune`` has loaded once imported, so that ``tune.utils.wait_for_gpu``
# works without importing ``tune.utils`` first; not in ``__all__``, as in Ray.
_SUBMODULES = frozenset(
    {
        "analysis", "callback", "context", "error", "execution", "experiment", "integration",
        "progress_reporter", "registry", "result", "result_grid", "session", "syncer",
        "sklearn", "trainable", "tune_config", "tuner", "utils",
    }
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"overtone.tune.{name}")
        globals()[name] = module
        return module
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'overtone.tune' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "SimulatedExecutor",
    "hypervolume",
    "replay",
    "Experiment",
    "PlacementGroupFactory",
    "ResumeConfig",
    "SyncConfig",
    "get_trial_dir",
    "get_trial_id",
    "get_trial_name",
    "get_trial_resources",
    "is_session_enabled",
    "register_trainable",
    "run_experiments",
    "CLIReporter",
    "Callback",
    "Checkpoint",
    "CheckpointConfig",
    "DaskExecutor",
    "Executor",
    "ExperimentAnalysis",
    "FailureConfig",
    "LocalExecutor",
    "MetricNotFoundError",
    "JupyterNotebookReporter",
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
    "checkpoint_dir",
    "choice",
    "create_scheduler",
    "create_searcher",
    "get_checkpoint",
    "get_context",
    "grid_search",
    "logger",
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
