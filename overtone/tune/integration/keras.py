"""Keras 3 callbacks (any backend: JAX, PyTorch or TensorFlow), under Ray Tune's module path.

Example::

    from overtone.tune.integration.keras import TuneReportCheckpointCallback

    def train(config):
        model.fit(x, y, validation_data=(xv, yv), epochs=10, callbacks=[
            TuneReportCheckpointCallback({"loss": "val_loss"}, frequency=1)])
"""

from __future__ import annotations

import os
from typing import Any

from overtone.checkpoint import Checkpoint
from overtone.tune.integration._common import (
    MetricSpec,
    check_frequency,
    normalize_metrics,
    report_with_checkpoint,
    require,
    select,
)


def _default_backend() -> None:
    """Keras 3 defaults to TensorFlow; where the configured backend is not installed but
    PyTorch or JAX is (as with ``overtone[keras]``), choose that instead of failing. A
    ``KERAS_BACKEND`` set by the user is left alone."""
    import importlib.util
    import json

    if "KERAS_BACKEND" in os.environ:
        return
    configured = "tensorflow"
    config_file = os.path.join(os.path.expanduser("~"), ".keras", "keras.json")
    try:
        with open(config_file, encoding="utf-8") as f:
            configured = json.load(f).get("backend", configured)
    except (OSError, ValueError, AttributeError):
        pass
    modules = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax", "numpy": "numpy"}
    if importlib.util.find_spec(modules.get(configured, configured)) is not None:
        return
    for backend in ("torch", "jax"):
        if importlib.util.find_spec(backend) is not None:
            os.environ["KERAS_BACKEND"] = backend
            return


_default_backend()
keras = require("keras", "keras")

HOOKS = (
    "epoch_begin",
    "epoch_end",
    "train_batch_begin",
    "train_batch_end",
    "test_batch_begin",
    "test_batch_end",
    "predict_batch_begin",
    "predict_batch_end",
    "train_begin",
    "train_end",
    "test_begin",
    "test_end",
    "predict_begin",
    "predict_end",
)

__all__ = ["ReportCheckpointCallback", "TuneReportCallback", "TuneReportCheckpointCallback"]


def _hooks(value: str | list[str], name: str) -> frozenset[str]:
    hooks = [value] if isinstance(value, str) else list(value)
    for hook in hooks:
        if hook not in HOOKS:
            raise ValueError(f"{name} is {hook!r}, but must be one of {list(HOOKS)}")
    return frozenset(hooks)


def _scalar(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


class ReportCheckpointCallback(keras.callbacks.Callback):
    """Report Keras's logs on some hooks and checkpoint the model on others.

    Args:
        checkpoint_on: hook(s) that save ``model.keras`` with a report; ``[]`` never.
        report_metrics_on: hook(s) that report the logs.
        metrics: None (all logs), one name, a list, or {reported name: Keras's name}.
    """

    CHECKPOINT_NAME = "model.keras"

    def __init__(
        self,
        checkpoint_on: str | list[str] = "epoch_end",
        report_metrics_on: str | list[str] = "epoch_end",
        metrics: MetricSpec = None,
    ) -> None:
        super().__init__()
        self._checkpoint_on = _hooks(checkpoint_on, "checkpoint_on")
        self._report_on = _hooks(report_metrics_on, "report_metrics_on")
        self._metrics = normalize_metrics(metrics)
        self._filename = self.CHECKPOINT_NAME
        self._frequency = 1
        self._events = 0

    @classmethod
    def get_model(cls, checkpoint: Checkpoint, filename: str = CHECKPOINT_NAME) -> Any:
        """The Keras model saved in ``checkpoint``."""
        with checkpoint.as_directory() as folder:
            return keras.saving.load_model(os.path.join(folder, filename))

    def _handle(self, hook: str, logs: dict[str, Any] | None) -> None:
        checkpoint = False
        if hook in self._checkpoint_on:
            self._events += 1
            checkpoint = bool(self._frequency) and self._events % self._frequency == 0
        if not checkpoint and hook not in self._report_on:
            return
        metrics = select({k: _scalar(v) for k, v in (logs or {}).items()}, self._metrics, "Keras")
        save = None
        if checkpoint:
            model = self.model

            def save(folder: str) -> None:
                model.save(os.path.join(folder, self._filename))

        report_with_checkpoint(metrics, save)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("epoch_begin", logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("epoch_end", logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_batch_begin", logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_batch_end", logs)

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_batch_begin", logs)

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_batch_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_batch_begin", logs)

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_batch_end", logs)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_begin", logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_end", logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_begin", logs)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_end", logs)

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_begin", logs)

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_end", logs)


class TuneReportCheckpointCallback(ReportCheckpointCallback):
    """Report Keras's logs on ``on`` and checkpoint the model every ``frequency`` of them.

    Args:
        metrics: None (all logs), one name, a list, or {reported name: Keras's name}.
        filename: the model's file in the checkpoint (Keras 3 wants ``.keras``).
        frequency: checkpoint every ``frequency`` events of ``on`` (0: never).
        on: the hook(s), without "on_": "epoch_end" (default), "train_batch_end" ...
    """

    def __init__(
        self,
        metrics: MetricSpec = None,
        filename: str = ReportCheckpointCallback.CHECKPOINT_NAME,
        frequency: int = 1,
        on: str | list[str] = "epoch_end",
    ) -> None:
        super().__init__(checkpoint_on=on, report_metrics_on=on, metrics=metrics)
        if not isinstance(filename, str) or not filename.endswith(".keras") or os.sep in filename:
            raise ValueError(f"filename is {filename!r}, but must be a file name ending in .keras")
        self._filename = filename
        self._frequency = check_frequency(frequency)


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report Keras's logs on ``on``, without checkpoints."""

    def __init__(self, metrics: MetricSpec = None, on: str | list[str] = "epoch_end") -> None:
        super().__init__(metrics=metrics, frequency=0, on=on)
