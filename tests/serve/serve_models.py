"""Trainables and predictors for the serving tests (importable by the worker processes)."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import time
from typing import Any

from overtone import tune
from overtone.serve import SklearnPredictor

SLOW_ROW = [-1.0, -1.0, -1.0, -1.0]  # IrisPredictor sleeps on this row (to be killed mid-batch)
SLOW_S = 1.0


def train_iris(config: dict[str, Any]) -> None:
    """A logistic regression on iris, saved as model.pkl in the checkpoint."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(C=config["C"], max_iter=300).fit(X, y)
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "model.pkl"), "wb") as f:
        pickle.dump(model, f)
    tune.report({"acc": model.score(X, y)}, checkpoint=tune.Checkpoint.from_directory(folder))


class IrisPredictor(SklearnPredictor):
    """The scikit-learn predictor, plus a row that makes it slow and one that makes it fail."""

    def predict(self, instances: list[Any]) -> Any:
        if SLOW_ROW in instances:
            time.sleep(SLOW_S)
        if "boom" in instances:
            raise ValueError("boom is not a row of features")
        return super().predict(instances)


def _save_version(version: int, broken: bool = False) -> tune.Checkpoint:
    folder = tempfile.mkdtemp()
    name = "garbage.txt" if broken else "version.json"  # a broken one cannot be loaded
    with open(os.path.join(folder, name), "w") as f:
        json.dump({"version": version}, f)
    return tune.Checkpoint.from_directory(folder)


def train_versions(config: dict[str, Any]) -> None:
    """Reports score = version for versions 1..config["versions"]; each checkpoint holds its
    version. With config["gate"], waits for that file before reporting versions after 1.
    Checkpoints from config["broken_from"] on hold no version.json."""
    for version in range(1, config["versions"] + 1):
        if version > 1 and config.get("gate"):
            deadline = time.monotonic() + 60
            while not os.path.exists(config["gate"]) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(config.get("pause", 0.0))
        broken = version >= config.get("broken_from", version + 1)
        tune.report({"score": version}, checkpoint=_save_version(version, broken))


class VersionPredictor:
    """Answers each instance with the checkpoint's version (no framework to import)."""

    def __init__(self, checkpoint: tune.Checkpoint, config: dict[str, Any]) -> None:
        with open(os.path.join(checkpoint.path, "version.json")) as f:
            self.version = json.load(f)["version"]

    def predict(self, instances: list[Any]) -> list[int]:
        return [self.version for _ in instances]


class AsyncVersionPredictor(VersionPredictor):
    async def predict(self, instances: list[Any]) -> list[int]:  # type: ignore[override]
        return [self.version for _ in instances]


class BrokenPredictor:
    def __init__(self, checkpoint: tune.Checkpoint, config: dict[str, Any]) -> None:
        raise RuntimeError("this model cannot be loaded")

    def predict(self, instances: list[Any]) -> list[Any]:
        return instances


class SleepyVersionPredictor(VersionPredictor):
    """Sleeps a second on the instance "sleep"."""

    def predict(self, instances: list[Any]) -> list[int]:
        if "sleep" in instances:
            time.sleep(1.0)
        return super().predict(instances)
