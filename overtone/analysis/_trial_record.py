"""A read-only view of one finished (or interrupted) trial, read from the experiment directory."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from overtone._dicts import flatten
from overtone._trial import Resources, TrialStatus
from overtone.checkpoint import Checkpoint
from overtone.storage._journal import read_results
from overtone.storage._layout import RESULT_FILE

logger = logging.getLogger(__name__)

flatten_dict = flatten  # the name the analysis modules use


def metric_keys(results: list[Mapping[str, Any]]) -> set[str]:
    """The flattened keys of ``results``, leaving out the ``config``."""
    keys: set[str] = set()
    for result in results:
        keys.update(k for k in flatten_dict(result) if k.partition("/")[0] != "config")
    return keys


class TrialRecord:
    """A read-only view of one trial of a finished experiment.

    Built by :class:`~overtone.analysis.ExperimentAnalysis` from an entry of
    ``experiment_state.json``; results are read from the trial's ``result.json`` on first use.
    """

    def __init__(self, entry: Mapping[str, Any], experiment_path: str) -> None:
        self._trial_id = str(entry["trial_id"])
        self._trial_name = str(entry.get("trial_name") or self._trial_id)
        self._config: dict[str, Any] = dict(entry.get("config") or {})
        self._status = TrialStatus(entry["status"])
        self._path = os.path.join(os.path.abspath(experiment_path), str(entry["dirname"]))
        self._experiment_tag = str(entry.get("experiment_tag") or "")
        self._num_failures = int(entry.get("num_failures") or 0)
        error_file = entry.get("error_file")
        self._error_file = os.path.join(self._path, error_file) if error_file else None
        self._resources = Resources.coerce(entry.get("resources"))
        self._raw_last_result: dict[str, Any] = dict(entry.get("last_result") or {})
        self._checkpoints = [
            (Checkpoint(os.path.join(self._path, str(c["dirname"]))), dict(c.get("metrics") or {}))
            for c in entry.get("checkpoints") or []
        ]
        # The latest checkpoint is kept for a restore even when it is not among the best.
        self._not_best = {
            i for i, c in enumerate(entry.get("checkpoints") or []) if c.get("best") is False
        }
        self._results: list[dict[str, Any]] | None = None
        self._out_of_space = bool(entry.get("out_of_space", False))

    @property
    def trial_id(self) -> str:
        return self._trial_id

    @property
    def trial_name(self) -> str:
        return self._trial_name

    @property
    def config(self) -> dict[str, Any]:
        return self._config

    @property
    def out_of_space(self) -> bool:
        """Whether a restore with another param space found this trial's config outside it
        (the trial is kept, with its results, and was not resumed)."""
        return self._out_of_space

    @property
    def status(self) -> TrialStatus:
        return self._status

    @property
    def last_result(self) -> dict[str, Any]:
        """The last reported result, with ``config`` (and ``trial_id``) as in Ray Tune."""
        result = dict(self._raw_last_result)
        result.setdefault("trial_id", self._trial_id)
        result["config"] = self._config
        return result

    @property
    def path(self) -> str:
        """The absolute path of the trial's directory."""
        return self._path

    @property
    def local_path(self) -> str:
        return self._path

    @property
    def logdir(self) -> str:
        return self._path

    @property
    def experiment_tag(self) -> str:
        return self._experiment_tag

    @property
    def num_failures(self) -> int:
        return self._num_failures

    @property
    def error_file(self) -> str | None:
        return self._error_file

    @property
    def error_msg(self) -> str | None:
        """The traceback text of the trial's last failure, or None."""
        if self._error_file is None:
            return None
        try:
            with open(self._error_file, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return None

    @property
    def checkpoints(self) -> list[tuple[Checkpoint, dict[str, Any]]]:
        """The kept checkpoints, oldest first, each with the metrics reported along with it."""
        return [(checkpoint, dict(metrics)) for checkpoint, metrics in self._checkpoints]

    @property
    def best_checkpoints(self) -> list[tuple[Checkpoint, dict[str, Any]]]:
        """The best ``num_to_keep`` checkpoints by score (all kept ones without a limit)."""
        return [
            (checkpoint, dict(metrics))
            for i, (checkpoint, metrics) in enumerate(self._checkpoints)
            if i not in self._not_best
        ]

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The latest kept checkpoint, or None."""
        return self._checkpoints[-1][0] if self._checkpoints else None

    @property
    def resources(self) -> Resources:
        return self._resources

    def load_results(self) -> list[dict[str, Any]]:
        """Every result the trial reported (read from ``result.json`` once, then cached)."""
        if self._results is None:
            self._results = read_results(os.path.join(self._path, RESULT_FILE))
        return self._results

    def __str__(self) -> str:
        return self._trial_name

    __repr__ = __str__
