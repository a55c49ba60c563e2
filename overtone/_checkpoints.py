"""Checkpoint bookkeeping: which checkpoint folders each trial keeps, and their scores.

The controller tells :class:`CheckpointBook` about every checkpoint a trial saves; the book
records it on the trial, keeps the best ``num_to_keep`` by score (and always the latest, so a
restarted trial continues from it), deletes the others on a background thread, copies another
trial's checkpoint over when a scheduler restarts a trial from it, and registers the final
checkpoint a trial leaves when it ends or pauses.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import threading
from typing import Any

from overtone._dicts import lookup
from overtone._trial_state import Trial
from overtone.config import CheckpointConfig
from overtone.storage._layout import checkpoint_name


class Deleter:
    """Deletes pruned checkpoint folders on a background thread, so that removing large
    files never stalls the event loop (and the results of other trials with it)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def delete(self, path: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="overtone-deleter", daemon=True)
            self._thread.start()
        self._queue.put(path)

    def _run(self) -> None:
        while (path := self._queue.get()) is not None:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


def iteration_of(checkpoint_dirname: str) -> int:
    digits = checkpoint_dirname.rpartition("_")[2]
    return int(digits) if digits.isdigit() else 0


def checkpoint_metrics(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "config"}


def add_checkpoint(trial: Trial, dirname: str, metrics: dict[str, Any]) -> None:
    """Record a checkpoint folder as the trial's latest (replacing a record of the same name)."""
    trial.checkpoints = [c for c in trial.checkpoints if c["dirname"] != dirname]
    trial.checkpoints.append({"dirname": dirname, "metrics": metrics})


def checkpoint_iteration(trial: Trial) -> int:
    """The iteration of the trial's latest checkpoint, 0 if there is none."""
    if not trial.checkpoints:
        return 0
    return int(trial.checkpoints[-1]["metrics"].get("training_iteration", 0))


def latest_checkpoint(trial: Trial) -> str | None:
    """The path of the trial's latest checkpoint, None if there is none."""
    if not trial.checkpoints:
        return None
    return os.path.join(trial.path, trial.checkpoints[-1]["dirname"])


class CheckpointBook:
    """Records, scores and prunes the checkpoints of every trial of one experiment.

    Each record is ``{"dirname", "metrics"}``, oldest first, in ``Trial.checkpoints``; a record
    kept only because it is the latest (not among the best ``num_to_keep``) carries
    ``"best": False``, so that ``Result.best_checkpoints`` lists the best ones only.
    """

    def __init__(self, config: CheckpointConfig) -> None:
        self.config = config
        self._deleter = Deleter()

    def record(self, trial: Trial, dirname: str, result: dict[str, Any]) -> None:
        """A trial saved ``dirname`` along with ``result``."""
        add_checkpoint(trial, dirname, checkpoint_metrics(result))
        if self.config.num_to_keep is not None:
            self.prune(trial)

    def record_final(self, trial: Trial) -> None:
        """Register the checkpoint a trial saved as it ended or paused, if it left one."""
        dirname = checkpoint_name(trial.start_iteration)
        known = {c["dirname"] for c in trial.checkpoints}
        if dirname in known or not os.path.isdir(os.path.join(trial.path, dirname)):
            return
        self.record(trial, dirname, trial.last_result)

    def prune(self, trial: Trial) -> None:
        """Keep the best ``num_to_keep`` checkpoints by score, and always the latest."""
        keep = self.config.num_to_keep
        if keep is None or not trial.checkpoints:
            return
        ranked = self._ranked(trial.checkpoints)
        best = {id(c) for c in ranked[:keep]}
        latest = trial.checkpoints[-1]
        kept = best | {id(latest)}
        for c in trial.checkpoints:
            if id(c) not in kept:
                self._deleter.delete(os.path.join(trial.path, c["dirname"]))
        trial.checkpoints = [c for c in trial.checkpoints if id(c) in kept]
        for c in trial.checkpoints:
            c.pop("best", None)
        if id(latest) not in best:
            latest["best"] = False

    def _ranked(self, checkpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records, best first."""
        attr = self.config.checkpoint_score_attribute
        if attr is None:  # no score: the most recent ones are the best
            return list(reversed(checkpoints))
        sign = 1.0 if self.config.checkpoint_score_order == "max" else -1.0

        def score(c: dict[str, Any]) -> float:
            value = lookup(c["metrics"], attr)
            if not isinstance(value, (int, float)) or value != value:
                return float("-inf")
            return sign * float(value)

        return sorted(checkpoints, key=score, reverse=True)

    def adopt(self, trial: Trial, source: str) -> None:
        """Make checkpoint folder ``source`` the trial's latest, as a scheduler's restart asks:
        a copy of another trial's (the trial's own are dropped), or one of its own."""
        if not os.path.isdir(source):
            print(
                f"Warning: the checkpoint {source} to restart trial "
                f"{trial.trial_name} from is gone; it continues from its own latest one",
                file=sys.stderr,
            )
            return
        source = os.path.abspath(source)
        name = os.path.basename(source.rstrip(os.sep))
        if os.path.dirname(source) != trial.path:  # another trial's: take a copy
            for c in trial.checkpoints:
                shutil.rmtree(os.path.join(trial.path, c["dirname"]), ignore_errors=True)
            target = os.path.join(trial.path, name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target + ".tmp")
            os.replace(target + ".tmp", target)
            trial.checkpoints = []
        add_checkpoint(trial, name, {"training_iteration": iteration_of(name)})

    def close(self) -> None:
        """Wait until every pruned checkpoint is gone."""
        self._deleter.close()
