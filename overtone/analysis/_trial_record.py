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


class _Packed(tuple):  # type: ignore[type-arg]
    """A dict packed as ``(keys, *values)``: the keys tuple is shared by every dict with the
    same keys, and a tuple costs a third of a dict."""

    __slots__ = ()


def pack(value: Any, memo: dict[Any, Any]) -> Any:
    """``value`` (decoded JSON) in a compact form that :func:`unpack` turns back: dicts as
    :class:`_Packed`, lists as tuples, equal short strings and ints shared through ``memo``."""
    kind = type(value)
    if kind is dict:
        keys = tuple(value)
        keys = memo.setdefault(("keys", keys), keys)
        return _Packed((keys, *(pack(v, memo) for v in value.values())))
    if kind is list:
        return tuple(pack(v, memo) for v in value)
    if (kind is str and len(value) <= 40) or kind is int:
        return memo.setdefault((kind, value), value)
    return value


def unpack(value: Any) -> Any:
    """The JSON value that :func:`pack` packed, as new dicts and lists."""
    kind = type(value)
    if kind is _Packed:
        keys = value[0]
        return {keys[i]: unpack(value[i + 1]) for i in range(len(keys))}
    if kind is tuple:
        return [unpack(v) for v in value]
    return value


class TrialRecord:
    """A read-only view of one trial of a finished experiment.

    Built by :class:`~overtone.analysis.ExperimentAnalysis` from an entry of
    ``experiment_state.json``; results are read from the trial's ``result.json`` on first use.
    The entry is kept packed (see :func:`pack`): an analysis of 100,000 trials holds no dict
    per trial, and each property builds what it returns afresh.
    """

    __slots__ = (
        "_trial_id",
        "_trial_name",
        "_config",
        "_status",
        "_experiment_path",
        "_dirname",
        "_experiment_tag",
        "_num_failures",
        "_error_file",
        "_resources",
        "_last_result",
        "_checkpoints",
        "_results",
        "_out_of_space",
    )

    def __init__(
        self,
        entry: Mapping[str, Any],
        experiment_path: str,
        memo: dict[Any, Any] | None = None,
    ) -> None:
        """``memo`` shares equal values between the records of one analysis."""
        memo = {} if memo is None else memo
        self._trial_id = str(entry["trial_id"])
        self._trial_name = str(entry.get("trial_name") or self._trial_id)
        self._config = pack(dict(entry.get("config") or {}), memo)
        self._status = TrialStatus(entry["status"])
        absolute = memo.get(("path", experiment_path))
        if absolute is None:
            absolute = memo[("path", experiment_path)] = os.path.abspath(experiment_path)
        self._experiment_path = absolute
        self._dirname = str(entry["dirname"])
        self._experiment_tag = pack(str(entry.get("experiment_tag") or ""), memo)
        self._num_failures = int(entry.get("num_failures") or 0)
        self._error_file = entry.get("error_file") or None
        resources = entry.get("resources")
        key = ("resources", pack(resources, memo))
        self._resources = memo.get(key)
        if self._resources is None:
            self._resources = memo[key] = Resources.coerce(resources)
        self._last_result = pack(dict(entry.get("last_result") or {}), memo)
        self._checkpoints = pack(list(entry.get("checkpoints") or []), memo)
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
        return unpack(self._config)

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
        result = unpack(self._last_result)
        result.setdefault("trial_id", self._trial_id)
        result["config"] = self.config
        return result

    @property
    def path(self) -> str:
        """The absolute path of the trial's directory."""
        return os.path.join(self._experiment_path, self._dirname)

    @property
    def local_path(self) -> str:
        return self.path

    @property
    def logdir(self) -> str:
        return self.path

    @property
    def experiment_tag(self) -> str:
        return self._experiment_tag

    @property
    def num_failures(self) -> int:
        return self._num_failures

    @property
    def error_file(self) -> str | None:
        return os.path.join(self.path, self._error_file) if self._error_file else None

    @property
    def error_msg(self) -> str | None:
        """The traceback text of the trial's last failure, or None."""
        error_file = self.error_file
        if error_file is None:
            return None
        try:
            with open(error_file, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return None

    @property
    def checkpoints(self) -> list[tuple[Checkpoint, dict[str, Any]]]:
        """The kept checkpoints, oldest first, each with the metrics reported along with it."""
        return [(checkpoint, metrics) for checkpoint, metrics, _ in self._kept()]

    @property
    def best_checkpoints(self) -> list[tuple[Checkpoint, dict[str, Any]]]:
        """The best ``num_to_keep`` checkpoints by score (all kept ones without a limit)."""
        # The latest checkpoint is kept for a restore even when it is not among the best.
        return [(checkpoint, metrics) for checkpoint, metrics, best in self._kept() if best]

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The latest kept checkpoint, or None."""
        if not self._checkpoints:
            return None
        latest = unpack(self._checkpoints[-1])
        return Checkpoint(os.path.join(self.path, str(latest["dirname"])))

    def _kept(self) -> list[tuple[Checkpoint, dict[str, Any], bool]]:
        """The kept checkpoints: each with its metrics and whether it is among the best."""
        path = self.path
        return [
            (
                Checkpoint(os.path.join(path, str(c["dirname"]))),
                dict(c.get("metrics") or {}),
                c.get("best") is not False,
            )
            for c in unpack(self._checkpoints)
        ]

    @property
    def resources(self) -> Resources:
        return self._resources

    def load_results(self) -> list[dict[str, Any]]:
        """Every result the trial reported (read from ``result.json`` once, then cached)."""
        if self._results is None:
            self._results = read_results(os.path.join(self.path, RESULT_FILE))
        return self._results

    def __str__(self) -> str:
        return self._trial_name

    __repr__ = __str__
