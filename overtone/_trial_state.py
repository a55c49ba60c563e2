"""The controller's own, mutable record of a trial."""

from __future__ import annotations

import os
import time
from typing import Any

from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.storage._files import full_disk
from overtone.storage._journal import TrialRecorder
from overtone.storage._layout import ERROR_FILE


class Trial:
    """Owned and mutated by the controller only; plugins see ``snapshot()``."""

    __slots__ = (
        "trial_id",
        "trial_name",
        "dirname",
        "path",
        "config",
        "status",
        "last_result",
        "num_failures",
        "experiment_tag",
        "resources",
        "checkpoints",
        "error_file",
        "recorder",
        "pending_decision",
        "trainable_name",
        "start_iteration",
        "start_time_total",
        "runs",
        "pending_restart",
        "out_of_space",
    )

    def __init__(
        self,
        trial_id: str,
        trial_name: str,
        dirname: str,
        experiment_path: str,
        config: dict[str, Any],
        resources: Resources,
        experiment_tag: str,
        trainable_name: str,
    ) -> None:
        self.trial_id = trial_id
        self.trial_name = trial_name
        self.dirname = dirname
        self.path = os.path.join(experiment_path, dirname)
        self.config = config
        self.status = TrialStatus.PENDING
        self.last_result: dict[str, Any] = {}
        self.num_failures = 0
        self.experiment_tag = experiment_tag
        self.resources = resources
        self.checkpoints: list[dict[str, Any]] = []  # {"dirname", "metrics"}, oldest first
        self.error_file: str | None = None
        self.recorder: TrialRecorder | None = None
        self.pending_decision: str | None = None  # STOP or PAUSE once decided
        self.trainable_name = trainable_name
        self.start_iteration = 0
        self.start_time_total = 0.0
        self.pending_restart: Any = None  # a TrialRestart to apply when the run ends
        self.runs = 0  # launches so far: a relaunch resumes from the latest checkpoint
        # Restored into a param space that cannot produce its config: kept, not resumed.
        self.out_of_space = False

    def snapshot(self) -> FrozenTrial:
        return FrozenTrial(
            trial_id=self.trial_id,
            trial_name=self.trial_name,
            config=self.config,
            status=self.status,
            last_result=self.last_result,
            path=self.path,
            resources=self.resources,
            num_failures=self.num_failures,
            experiment_tag=self.experiment_tag,
            trainable_name=self.trainable_name,
        )

    def record_failure(self, error: str) -> None:
        """Count a failure and append its traceback to the trial's ``error.txt``."""
        self.num_failures += 1
        self.error_file = ERROR_FILE
        path = os.path.join(self.path, ERROR_FILE)
        try:
            os.makedirs(self.path, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(
                    f"Failure # {self.num_failures} "
                    f"(occurred at {time.strftime('%Y-%m-%d_%H-%M-%S')})\n{error}\n"
                )
        except OSError as exc:
            full = full_disk(exc, path)
            if full is exc:
                raise
            raise full from exc

    def to_state(self) -> dict[str, Any]:
        state = {
            "trial_id": self.trial_id,
            "trial_name": self.trial_name,
            "dirname": self.dirname,
            "config": self.config,
            "status": self.status.value,
            "experiment_tag": self.experiment_tag,
            "last_result": {k: v for k, v in self.last_result.items() if k != "config"},
            "num_failures": self.num_failures,
            "error_file": self.error_file,
            "checkpoints": self.checkpoints,
            "resources": self.resources.to_dict(),
            "trainable_name": self.trainable_name,
        }
        if self.out_of_space:
            state["out_of_space"] = True
        return state

    @classmethod
    def from_state(cls, entry: dict[str, Any], experiment_path: str) -> Trial:
        """The trial that :meth:`to_state` wrote ``entry`` for (its ``last_result`` with the
        ``config`` again, as the controller keeps it)."""
        trial = cls(
            entry["trial_id"],
            entry["trial_name"],
            entry["dirname"],
            experiment_path,
            entry["config"],
            Resources.coerce(entry.get("resources")),
            entry.get("experiment_tag", ""),
            entry.get("trainable_name", ""),
        )
        trial.status = TrialStatus(entry["status"])
        trial.num_failures = int(entry.get("num_failures", 0))
        trial.error_file = entry.get("error_file")
        trial.out_of_space = bool(entry.get("out_of_space", False))
        trial.checkpoints = list(entry.get("checkpoints") or [])
        last = entry.get("last_result")
        if last:
            trial.last_result = {**last, "config": trial.config}
        return trial

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None

    def __repr__(self) -> str:
        return self.trial_name
