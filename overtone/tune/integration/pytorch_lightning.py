"""PyTorch Lightning callbacks (Ray Tune's module path); ``lightning`` or ``pytorch_lightning``.

Example::

    from overtone.tune.integration.pytorch_lightning import TuneReportCheckpointCallback

    def train(config):
        trainer = lightning.Trainer(max_epochs=10, enable_progress_bar=False, callbacks=[
            TuneReportCheckpointCallback({"loss": "val_loss"}, on="validation_end")])
        checkpoint = tune.get_checkpoint()
        if checkpoint:  # resuming after a failure or a PBT exploit
            with checkpoint.as_directory() as d:
                trainer.fit(model, dm, ckpt_path=os.path.join(d, "checkpoint"))
        else:
            trainer.fit(model, dm)
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import warnings
from typing import Any

from overtone.tune.integration._common import (
    MetricSpec,
    normalize_metrics,
    report_with_checkpoint,
    require,
)


def _import_callback_base() -> Any:
    try:
        return importlib.import_module("lightning.pytorch").Callback
    except ImportError:
        pass
    return require("pytorch_lightning", "lightning", "lightning").Callback


Callback = _import_callback_base()

# Every hook of Lightning's Callback, named without its "on_" ("validation_end" ...).
HOOKS = frozenset(
    name[3:]
    for name, _ in inspect.getmembers(Callback, predicate=inspect.isfunction)
    if name.startswith("on_")
)

__all__ = ["TuneCallback", "TuneReportCallback", "TuneReportCheckpointCallback"]


def _scalar(value: Any) -> Any:
    if hasattr(value, "detach"):  # a tensor
        value = value.detach().cpu()
        return value.item() if value.numel() == 1 else value.tolist()
    return value


class TuneCallback(Callback):
    """The base: calls ``_handle(trainer, pl_module)`` on each hook named in ``on``."""

    def __init__(self, on: str | list[str] = "validation_end") -> None:
        super().__init__()
        hooks = [on] if isinstance(on, str) else list(on)
        for hook in hooks:
            name = hook[3:] if isinstance(hook, str) and hook.startswith("on_") else hook
            if name not in HOOKS:
                raise ValueError(
                    f"on is {hook!r}, but must be one of Lightning's Callback hooks without "
                    f"'on_': {sorted(HOOKS)}"
                )
            # Lightning calls ``getattr(callback, "on_<hook>")``: bind only the chosen hooks.
            setattr(self, f"on_{name}", functools.partial(self._hook, name))
        self._on = hooks

    def _hook(self, name: str, trainer: Any, *args: Any, **kwargs: Any) -> None:
        pl_module = args[0] if args else kwargs.get("pl_module")
        self._handle(trainer, pl_module)

    def _handle(self, trainer: Any, pl_module: Any) -> None:
        raise NotImplementedError


class TuneReportCheckpointCallback(TuneCallback):
    """Report ``trainer.callback_metrics`` and checkpoint the trainer on a Lightning hook.

    Args:
        metrics: which metrics to report: None (all of ``trainer.callback_metrics``), one
            name, a list, or a dict ``{reported name: Lightning's name}``.
        filename: the Lightning checkpoint's file inside the Tune checkpoint; resume with
            ``trainer.fit(..., ckpt_path=os.path.join(checkpoint_dir, filename))``.
        save_checkpoints: False reports metrics only.
        on: the hook (or hooks) to act on, without "on_": "validation_end" (default),
            "train_epoch_end", "train_batch_end", "train_end" ...
    """

    def __init__(
        self,
        metrics: MetricSpec = None,
        filename: str = "checkpoint",
        save_checkpoints: bool = True,
        on: str | list[str] = "validation_end",
    ) -> None:
        super().__init__(on=on)
        self._metrics = normalize_metrics(metrics)
        if not isinstance(filename, str) or not filename or os.sep in filename:
            raise ValueError(f"filename is {filename!r}, but must be a plain file name")
        self._filename = filename
        self._save_checkpoints = bool(save_checkpoints)
        self._warned: set[str] = set()

    def _metrics_of(self, trainer: Any) -> dict[str, Any]:
        available = trainer.callback_metrics
        if self._metrics is None:
            return {k: _scalar(v) for k, v in available.items()}
        out = {}
        for name, source in self._metrics.items():
            if source in available:
                out[name] = _scalar(available[source])
            elif source not in self._warned:
                # Lightning logs some metrics only on some hooks: skip, as Ray Tune does.
                self._warned.add(source)
                warnings.warn(
                    f"metric {source!r} is not in trainer.callback_metrics "
                    f"({sorted(available)}) on hook {self._on}; it is not reported",
                    stacklevel=2,
                )
        return out

    def _handle(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        metrics = self._metrics_of(trainer)
        save = None
        if self._save_checkpoints:

            def save(folder: str) -> None:
                trainer.save_checkpoint(os.path.join(folder, self._filename))

        report_with_checkpoint(metrics, save)


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report ``trainer.callback_metrics`` on a Lightning hook, without checkpoints."""

    def __init__(self, metrics: MetricSpec = None, on: str | list[str] = "validation_end") -> None:
        super().__init__(metrics=metrics, save_checkpoints=False, on=on)
