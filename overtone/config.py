"""Typed settings of an experiment: ``TuneConfig``, ``RunConfig`` and their parts."""

from __future__ import annotations

import datetime
import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overtone._checks import check_mode, check_objectives

DEFAULT_STORAGE_PATH = os.path.join("~", "overtone_results")


def check_experiment_name(name: Any) -> None:
    """An experiment's name becomes a folder under the storage path: it must stay in it."""
    seps = {"/", os.sep, os.altsep} - {None}
    if (
        not isinstance(name, str)
        or name.strip() in ("", ".", "..")
        or any(sep in name for sep in seps)
        or "\0" in name
    ):
        raise ValueError(
            f"name is {name!r}, but must be a folder name inside the storage path: "
            "not empty, not '.' or '..', without '/', a path separator or a NUL character"
        )


@dataclass
class FailureConfig:
    """What happens when trials fail.

    Args:
        max_failures: restarts of a failed trial, from its latest checkpoint (-1: forever).
        fail_fast: stop the whole experiment at the first trial failure.
    """

    max_failures: int = 0
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.max_failures, int) or self.max_failures < -1:
            raise ValueError(f"max_failures is {self.max_failures!r}, but must be an int >= -1")


@dataclass
class CheckpointConfig:
    """Which checkpoints to keep and when class trainables save them."""

    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool | None = None

    def __post_init__(self) -> None:
        if self.num_to_keep is not None and self.num_to_keep < 1:
            raise ValueError(f"num_to_keep is {self.num_to_keep}, but must be None or >= 1")
        check_mode(self.checkpoint_score_order, "checkpoint_score_order")
        if self.checkpoint_frequency < 0:
            raise ValueError(
                f"checkpoint_frequency is {self.checkpoint_frequency}, but must be >= 0"
            )


@dataclass
class TuneConfig:
    """How to search: metric, mode, search algorithm, scheduler, number of trials.

    Args:
        metric: the result key to optimize, or a list of keys for several objectives (then
            ASHA and HyperBand rank trials by Pareto front, and ``ResultGrid.get_pareto_front``
            gives the trials no other beats in every objective).
        mode: ``"min"`` or ``"max"``, or a list of them, one per metric.
        seed: one seed from which every random choice of the experiment derives.
        chdir_to_trial_dir: Ray's setting; only False is accepted, because Overtone never
            changes a trial's working directory.
        warm_start: an earlier experiment (its folder, ``ExperimentAnalysis`` or
            ``ResultGrid``) whose finished trials the searcher learns from before it suggests
            anything (``Searcher.add_evaluated_trials``).
    """

    metric: str | list[str] | None = None
    mode: str | list[str] | None = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | datetime.timedelta | None = None
    reuse_actors: bool = True
    trial_name_creator: Callable[[Any], str] | None = None
    trial_dirname_creator: Callable[[Any], str] | None = None
    seed: int | None = None
    chdir_to_trial_dir: bool = False
    warm_start: Any = None

    def __post_init__(self) -> None:
        self.metric, self.mode = check_objectives(self.metric, self.mode)
        if self.chdir_to_trial_dir:
            raise ValueError(
                "chdir_to_trial_dir is True, but Overtone never changes a trial's working "
                "directory: build paths from tune.get_context().get_trial_dir() instead"
            )
        if not isinstance(self.num_samples, int) or self.num_samples < 1:
            raise ValueError(f"num_samples is {self.num_samples!r}, but must be an int >= 1")
        if self.max_concurrent_trials == 0:  # Ray's "no limit"
            self.max_concurrent_trials = None
        if self.max_concurrent_trials is not None and self.max_concurrent_trials < 1:
            raise ValueError(
                f"max_concurrent_trials is {self.max_concurrent_trials}, but must be >= 1"
            )
        if isinstance(self.time_budget_s, datetime.timedelta):
            self.time_budget_s = self.time_budget_s.total_seconds()
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time_budget_s is {self.time_budget_s}, but must be > 0")


@dataclass
class SyncConfig:
    """How a remote ``storage_path`` is mirrored (``tune.SyncConfig``, as in Ray).

    Overtone mirrors the whole experiment folder (results, checkpoints and the trials' other
    files) from a background thread, and once more when the experiment ends.

    Args:
        sync_period: the least seconds between the starts of two mirroring passes.
        sync_timeout: accepted for Ray's scripts; an upload is retried with backoff instead.
        sync_artifacts: accepted for Ray's scripts; the trials' files are always mirrored.
        sync_artifacts_on_checkpoint: accepted for Ray's scripts (see ``sync_artifacts``).
    """

    sync_period: float = 300.0
    sync_timeout: float = 1800.0
    sync_artifacts: bool = False
    sync_artifacts_on_checkpoint: bool = True
    upload_dir: Any = None
    syncer: Any = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.sync_period, (int, float)) or self.sync_period < 0:
            raise ValueError(f"sync_period is {self.sync_period!r}, but must be a number >= 0")
        if self.upload_dir is not None:
            raise ValueError(
                f"SyncConfig(upload_dir={self.upload_dir!r}) is no longer accepted (as in "
                "Ray 2.x): pass the URI as RunConfig(storage_path=...) instead"
            )
        if self.syncer != "auto":
            raise ValueError(
                f"SyncConfig(syncer={self.syncer!r}) is not supported: Overtone mirrors "
                "through fsspec; pass RunConfig(storage_filesystem=...) to choose how"
            )


class ResumeType(str, enum.Enum):
    """What ``ResumeConfig`` does with a kind of trial."""

    RESUME = "RESUME"
    RESTART = "RESTART"
    SKIP = "SKIP"


@dataclass
class ResumeConfig:
    """Which trials a resumed experiment continues (``tune.ResumeConfig``, as in Ray).

    ``unfinished``: RESUME (from the latest checkpoint) or SKIP; ``errored``: RESUME, RESTART
    (from scratch) or SKIP; ``finished``: SKIP (finished trials keep their results).
    """

    ResumeType = ResumeType

    finished: ResumeType | str = ResumeType.SKIP
    unfinished: ResumeType | str = ResumeType.RESUME
    errored: ResumeType | str = ResumeType.SKIP

    def __post_init__(self) -> None:
        for name in ("finished", "unfinished", "errored"):
            value = getattr(self, name)
            text = str(value.value if isinstance(value, enum.Enum) else value).upper()
            if text not in ResumeType.__members__:
                raise ValueError(f"{name} is {value!r}, but must be RESUME, RESTART or SKIP")
            setattr(self, name, ResumeType(text))
        if self.finished is not ResumeType.SKIP:
            raise ValueError(
                f"finished is {self.finished.value}, but Overtone keeps finished trials as "
                "they are: it must be SKIP"
            )
        if self.unfinished is ResumeType.RESTART:
            raise ValueError(
                "unfinished is RESTART, but Overtone resumes unfinished trials from their "
                "checkpoints or skips them: it must be RESUME or SKIP"
            )


def verbosity(value: Any) -> int:
    """``verbose`` as 0-3: Ray also accepts True/False and its ``Verbosity`` enum."""
    if isinstance(value, bool):
        return 1 if value else 0
    try:
        level = int(value)
    except (TypeError, ValueError):
        level = -1
    if level not in (0, 1, 2, 3):
        raise ValueError(f"verbose is {value!r}, but must be 0, 1, 2, 3 or a bool")
    return level


@dataclass
class DashboardConfig:
    """The dashboard a run serves (``RunConfig(dashboard=DashboardConfig(...))``).

    Args:
        host: the interface; anything but loopback requires a token (one is generated).
        port: the port (0: any free one).
        token: the token every request must carry.
        keep_running: keep serving after the run ends, until the process exits.
    """

    host: str = "127.0.0.1"
    port: int = 8265
    token: str | None = None
    keep_running: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValueError(f"port is {self.port!r}, but must be an integer from 0 to 65535")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port is {self.port!r}, but must be an integer from 0 to 65535")


@dataclass
class RunConfig:
    """Where and how to run: name, storage, stopping, callbacks, output, executor.

    Args:
        executor: where trials run: ``None`` or ``"local"`` (worker processes on this
            machine), ``"dask://host:8786"`` (a Dask cluster), a ``distributed.Client``, or
            an executor object such as ``LocalExecutor(num_gpus=2)``.
        verbose: 0 silent, 1 the final summary only, 2 + the live status (trial table,
            progress bar, best trial) and a line per finished trial, 3 + every result.
            None: the Tuner shows level 2, with a status block every 30 s at most when
            stdout is not a terminal (``tune.run`` keeps Ray's default, 3).
        storage_path: a local path or an fsspec URI such as ``s3://bucket/prefix``.
        storage_filesystem: an fsspec filesystem to reach a remote ``storage_path`` with
            (e.g. ``s3fs.S3FileSystem(endpoint_url=...)``); default: from the URI.
        default_loggers: write ``progress.csv`` and, when tensorboardX or TensorBoard is
            installed, TensorBoard event files. ``result.json`` is always written: it is the
            experiment's journal, which restore and analysis read.
        callbacks_fail_fast: a callback that raises stops the experiment (default: it is
            reported once with its traceback, and the experiment goes on).
        sync_config: how a remote ``storage_path`` is mirrored (:class:`SyncConfig`).
        local_dir: the old name of ``storage_path`` (Ray 2.0-2.6), accepted for it.
        dashboard: ``True`` (or a :class:`DashboardConfig`) serves the live dashboard of the
            experiment while it runs and prints its URL (``pip install 'overtone[dashboard]'``).
    """

    name: str | None = None
    storage_path: str | None = None
    callbacks: list[Any] | None = None
    stop: Any = None
    failure_config: FailureConfig | None = None
    checkpoint_config: CheckpointConfig | None = None
    verbose: int | None = None
    progress_reporter: Any = None
    log_to_file: bool | str | tuple[str, str] = False
    executor: Any = None
    storage_filesystem: Any = None
    default_loggers: bool = True
    callbacks_fail_fast: bool = False
    sync_config: SyncConfig | None = None
    local_dir: str | None = None
    dashboard: bool | DashboardConfig = False

    def __post_init__(self) -> None:
        if self.local_dir is not None:  # Ray 2.0-2.6's name for storage_path
            if self.storage_path is not None and self.storage_path != self.local_dir:
                raise ValueError(
                    f"local_dir is {self.local_dir!r} and storage_path {self.storage_path!r}: "
                    "pass storage_path only (local_dir is its old name)"
                )
            self.storage_path, self.local_dir = self.local_dir, None
        if self.verbose is not None:
            self.verbose = verbosity(self.verbose)
        if self.sync_config is not None and not isinstance(self.sync_config, SyncConfig):
            raise TypeError(f"sync_config is {self.sync_config!r}, but must be a tune.SyncConfig")
        if self.name is not None:
            check_experiment_name(self.name)
        if not isinstance(self.dashboard, (bool, DashboardConfig)):
            raise ValueError(
                f"dashboard is {self.dashboard!r}, but must be True, False or a DashboardConfig"
            )
