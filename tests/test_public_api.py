"""The public facade exports exactly what is meant to be public, and imports lazily."""

from __future__ import annotations

import subprocess
import sys

from overtone import tune

EXPECTED = {
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
    "JupyterNotebookReporter",
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
    "checkpoint_dir",
    "choice",
    "create_scheduler",
    "create_searcher",
    "get_checkpoint",
    "get_context",
    "grid_search",
    "hypervolume",
    "replay",
    "SimulatedExecutor",
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
}


def test_all_is_exactly_the_public_api():
    assert set(tune.__all__) == EXPECTED
    for name in tune.__all__:
        assert getattr(tune, name) is not None, name


def test_subpackages_mirror_ray_tune():
    from overtone.tune.schedulers import FIFOScheduler, TrialScheduler  # noqa: F401
    from overtone.tune.search import BasicVariantGenerator, ConcurrencyLimiter, Searcher  # noqa: F401
    from overtone.tune.stopper import MaximumIterationStopper, TrialPlateauStopper  # noqa: F401


def test_importing_the_facade_is_light():
    code = (
        "import sys; from overtone import tune; tune.report; "
        "print(sorted(m for m in ('numpy', 'pandas', 'overtone._controller') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_train_is_light():
    code = (
        "import sys; from overtone import train; train.report; train.RunConfig; "
        "print(sorted(m for m in ('numpy', 'pandas', 'overtone._controller') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no_such_thing"):
        tune.no_such_thing  # noqa: B018


def test_submodules_are_reachable_as_attributes():
    import importlib

    for name in ("utils", "result", "experiment", "execution", "trainable", "tuner"):
        assert getattr(tune, name) is importlib.import_module(f"overtone.tune.{name}")
    assert tune.utils.wait_for_gpu is not None
