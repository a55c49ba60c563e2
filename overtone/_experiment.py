"""What the controller is given (``ExperimentSpec``) and the small pieces it works with."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from overtone._dicts import lookup
from overtone._trial import FrozenTrial, Resources
from overtone._trial_state import Trial
from overtone._trial_table import TrialTable
from overtone.callbacks import Callback
from overtone.callbacks._guard import CallbackList
from overtone.config import CheckpointConfig, FailureConfig
from overtone.executors._base import Executor
from overtone.schedulers import TrialScheduler
from overtone.search import Searcher
from overtone.stopper import Stopper


@dataclass
class ExperimentSpec:
    """Everything the controller needs, resolved from either API generation."""

    trainable_blob: bytes
    trainable_name: str
    name: str
    experiment_path: str
    param_space: dict[str, Any]
    searcher: Searcher
    scheduler: TrialScheduler
    stopper: Stopper | None
    executor: Executor
    resources: Resources | Callable[[dict[str, Any]], Any]
    metric: str | None = None
    mode: str | None = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | None = None
    failure_config: FailureConfig = field(default_factory=FailureConfig)
    checkpoint_frequency: int = 0
    checkpoint_config: CheckpointConfig = field(default_factory=CheckpointConfig)
    callbacks: list[Callback] = field(default_factory=list)
    reporter: Any = None
    verbose: int = 1
    seed: int | None = None
    trial_name_creator: Callable[[Any], str] | None = None
    trial_dirname_creator: Callable[[Any], str] | None = None
    stream: Any = None
    restored: Any = None  # a RestoredExperiment to continue
    log_to_file: bool | str | tuple[str, str] = False
    reuse_actors: bool = True
    remote: Any = None  # a RemoteSync mirroring the experiment to remote storage
    default_loggers: bool = True  # progress.csv and TensorBoard files (result.json always)
    callbacks_fail_fast: bool = False
    # The key the executor was set up with (its workers load the trainable under it), when it
    # was set up before the controller was made; None: the controller sets it up.
    executor_key: str | None = None


class TrialsView(Sequence[FrozenTrial]):
    """All trials as snapshots, in creation order, each built only when a callback looks (a
    finished trial's is read back from the :class:`TrialTable`'s spill)."""

    def __init__(self, trials: TrialTable) -> None:
        self._trials = trials

    def __len__(self) -> int:
        return len(self._trials)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._trials.snapshot_at(j) for j in range(*i.indices(len(self._trials)))]
        return self._trials.snapshot_at(i)

    def __iter__(self) -> Iterator[FrozenTrial]:
        return (self._trials.snapshot_at(j) for j in range(len(self._trials)))


def log_files(setting: bool | str | tuple[str, str], trial_dir: str) -> tuple[str, str] | None:
    """Ray Tune's ``log_to_file``: True, one file name for both streams, or a pair."""
    if not setting:
        return None
    if setting is True:
        names = ("stdout", "stderr")
    elif isinstance(setting, str):
        names = (setting, setting)
    else:
        names = (setting[0], setting[1])
    return (os.path.join(trial_dir, names[0]), os.path.join(trial_dir, names[1]))


def guarded_callbacks(spec: ExperimentSpec, output: Callback | None = None) -> CallbackList:
    """The user's callbacks, behind one guard, with TensorBoard's logger by default and the
    progress ``output`` last (its lines follow what the user's callbacks print).

    ``result.json`` and ``progress.csv`` are written by the controller itself: they are the
    experiment's journal, rewound when a trial resumes from a checkpoint, so logger
    callbacks of exactly those two classes are that journal and are not run twice.
    """
    from overtone.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback
    from overtone.logger._tfevents import backend_available

    journal = (JsonLoggerCallback, CSVLoggerCallback)
    user = [cb for cb in spec.callbacks if type(cb) not in journal]
    defaults: list[Callback] = []
    if (
        spec.default_loggers
        and backend_available() is not None
        and not any(isinstance(cb, TBXLoggerCallback) for cb in user)
    ):
        defaults.append(TBXLoggerCallback())
    last = [output] if output is not None else []
    return CallbackList([*defaults, *user, *last], fail_fast=spec.callbacks_fail_fast)


def require_metric(result: dict[str, Any], metric: Any, who: Any) -> None:
    """A scheduler or searcher needs its metric in every result: say so at the first."""
    metrics = metric if isinstance(metric, list) else [metric]
    missing = [m for m in metrics if m is not None and lookup(result, m) is None]
    if missing:
        available = sorted(k for k in result if k != "config")
        raise ValueError(
            f"a trial reported a result without the metric {missing[0]!r} that "
            f"{type(who).__name__} needs; the result has {available}. Report it with "
            f"tune.report({{{missing[0]!r}: value}}), or set the right metric"
        )


def resource_usage(
    executor: Executor, trials: Mapping[str, Trial], running: set[str]
) -> list[str]:
    """The progress output's line on the resources the running trials hold."""
    total = executor.total_resources()
    cpu = sum(trials[t].resources.cpu for t in running)
    gpu = sum(trials[t].resources.gpu for t in running)
    return [
        f"Logical resource usage: {cpu:g}/{total.cpu:g} CPUs, {gpu:g}/{total.gpu:g} GPUs",
    ]
