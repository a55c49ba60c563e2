"""``Result``: what one trial produced, as ``ResultGrid`` hands it out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from overtone._checks import check_mode
from overtone.analysis._scores import existing_checkpoints, is_nan, score_of
from overtone.analysis._trial_record import flatten_dict
from overtone.checkpoint import Checkpoint

if TYPE_CHECKING:
    import pandas as pd

# Keys every result carries; left out of ``repr`` so that the user's metrics stand out.
_AUTO_KEYS = frozenset(
    {
        "config",
        "date",
        "done",
        "experiment_tag",
        "hostname",
        "iterations_since_restore",
        "node_ip",
        "pid",
        "time_since_restore",
        "time_this_iter_s",
        "time_total_s",
        "timestamp",
        "timesteps_since_restore",
        "timesteps_total",
        "training_iteration",
        "trial_id",
    }
)


class Result:
    """The outcome of one trial.

    Attributes:
        metrics: the last reported result, with its ``config``.
        checkpoint: the latest kept checkpoint, or None.
        error: the trial's failure (a :class:`~overtone.TrialError`), or None.
        path: the trial's directory.
        best_checkpoints: the kept checkpoints, each with the metrics reported with it.
    """

    def __init__(
        self,
        metrics: dict[str, Any] | None,
        checkpoint: Checkpoint | None,
        error: Exception | None,
        path: str,
        metrics_dataframe: pd.DataFrame | None = None,
        best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] | None = None,
        _storage_filesystem: object | None = None,
        *,
        _load_metrics_dataframe: Callable[[], pd.DataFrame] | None = None,
    ) -> None:
        self.metrics = metrics
        self.checkpoint = checkpoint
        self.error = error
        self.path = path
        self.best_checkpoints = best_checkpoints
        self._metrics_dataframe = metrics_dataframe
        self._load_metrics_dataframe = _load_metrics_dataframe
        self._storage_filesystem = _storage_filesystem

    @property
    def config(self) -> dict[str, Any] | None:
        """The trial's config, as recorded in its metrics."""
        if not self.metrics:
            return None
        return self.metrics.get("config")

    @property
    def metrics_dataframe(self) -> pd.DataFrame | None:
        """Every result of the trial, flattened with ``/`` (read on first use)."""
        if self._metrics_dataframe is None and self._load_metrics_dataframe is not None:
            self._metrics_dataframe = self._load_metrics_dataframe()
        return self._metrics_dataframe

    @property
    def filesystem(self) -> object | None:
        """The filesystem of ``path``; None for a local directory."""
        return self._storage_filesystem

    def get_best_checkpoint(self, metric: str, mode: str) -> Checkpoint | None:
        """The kept checkpoint with the best ``metric`` for ``mode`` ("min" or "max").

        Checkpoints whose folder no longer exists are skipped with a warning; None if none
        of those that hold ``metric`` exists any more.
        """
        if not self.best_checkpoints:
            raise RuntimeError(f"Trial at {self.path} kept no checkpoints")
        check_mode(mode, required=True)
        scored = []
        names: set[str] = set()
        for checkpoint, metrics in self.best_checkpoints:
            flat = flatten_dict(metrics)
            names.update(flat)
            if metric in flat:
                scored.append((checkpoint, flat[metric]))
        if not scored:
            raise RuntimeError(
                f"metric {metric!r} is not in the metrics of any checkpoint; "
                f"you may choose from: {sorted(names)}"
            )
        scored = existing_checkpoints(scored, f"the trial at {self.path}")
        comparable = [
            (c, s)
            for c, s in ((c, score_of(v)) for c, v in scored)
            if s is not None and not is_nan(s)
        ]
        if not comparable:
            return None
        pick = max if mode == "max" else min
        return pick(comparable, key=lambda item: item[1])[0]

    def __repr__(self) -> str:
        shown = {k: v for k, v in (self.metrics or {}).items() if k not in _AUTO_KEYS}
        parts = []
        if self.error is not None:
            parts.append(f"error={type(self.error).__name__}")
        parts.append(f"metrics={shown!r}")
        parts.append(f"path={self.path!r}")
        parts.append(f"filesystem={'local' if self.filesystem is None else self.filesystem!r}")
        parts.append(f"checkpoint={self.checkpoint!r}")
        return f"Result({', '.join(parts)})"
