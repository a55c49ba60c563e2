"""Typed settings of an experiment: ``TuneConfig``, ``RunConfig`` and their parts."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_STORAGE_PATH = os.path.join("~", "overtone_results")


def _check_mode(mode: Any, name: str = "mode") -> None:
    if mode is not None and mode not in ("min", "max"):
        raise ValueError(f"{name} is {mode!r}, but must be 'min' or 'max'")


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
        _check_mode(self.checkpoint_score_order, "checkpoint_score_order")
        if self.checkpoint_frequency < 0:
            raise ValueError(
                f"checkpoint_frequency is {self.checkpoint_frequency}, but must be >= 0"
            )


@dataclass
class TuneConfig:
    """How to search: metric, mode, search algorithm, scheduler, number of trials.

    Args:
        seed: one seed from which every random choice of the experiment derives.
    """

    metric: str | None = None
    mode: str | None = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | datetime.timedelta | None = None
    reuse_actors: bool = True
    trial_name_creator: Callable[[Any], str] | None = None
    trial_dirname_creator: Callable[[Any], str] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_mode(self.mode)
        if not isinstance(self.num_samples, int) or self.num_samples < 1:
            raise ValueError(f"num_samples is {self.num_samples!r}, but must be an int >= 1")
        if self.max_concurrent_trials is not None and self.max_concurrent_trials < 1:
            raise ValueError(
                f"max_concurrent_trials is {self.max_concurrent_trials}, but must be >= 1"
            )
        if isinstance(self.time_budget_s, datetime.timedelta):
            self.time_budget_s = self.time_budget_s.total_seconds()
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time_budget_s is {self.time_budget_s}, but must be > 0")


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
        verbose: 0 silent, 1 experiment status, 2 + trial table, 3 + every result.
        storage_path: a local path or an fsspec URI such as ``s3://bucket/prefix``.
        storage_filesystem: an fsspec filesystem to reach a remote ``storage_path`` with
            (e.g. ``s3fs.S3FileSystem(endpoint_url=...)``); default: from the URI.
        default_loggers: write ``progress.csv`` and, when tensorboardX or TensorBoard is
            installed, TensorBoard event files. ``result.json`` is always written: it is the
            experiment's journal, which restore and analysis read.
        callbacks_fail_fast: a callback that raises stops the experiment (default: it is
            reported once with its traceback, and the experiment goes on).
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
    dashboard: bool | DashboardConfig = False

    def __post_init__(self) -> None:
        if not isinstance(self.dashboard, (bool, DashboardConfig)):
            raise ValueError(
                f"dashboard is {self.dashboard!r}, but must be True, False or a DashboardConfig"
            )
        if self.verbose is not None and self.verbose not in (0, 1, 2, 3):
            raise ValueError(f"verbose is {self.verbose!r}, but must be 0, 1, 2 or 3")
        if self.name is not None and (not self.name or os.sep in self.name):
            raise ValueError(f"name is {self.name!r}, but must be a non-empty folder name")
