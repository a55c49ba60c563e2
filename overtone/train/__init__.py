"""``overtone.train``: what scripts written as ``from ray import train, tune`` use of it.

The same objects as ``overtone.tune``'s: ``train.report``, ``train.get_checkpoint``,
``train.get_context``, ``train.Checkpoint``, ``train.RunConfig``, ``train.CheckpointConfig``,
``train.FailureConfig``, ``train.SyncConfig`` and ``train.Result``. Ray Train's distributed
trainers (``ScalingConfig``, ``TorchTrainer``...) are not offered: an Overtone trial is one
process.
"""

from __future__ import annotations

from overtone._lazy import lazy_exports

_LAZY = {
    "Checkpoint": ("overtone.checkpoint", "Checkpoint"),
    "CheckpointConfig": ("overtone.config", "CheckpointConfig"),
    "FailureConfig": ("overtone.config", "FailureConfig"),
    "Result": ("overtone.analysis", "Result"),
    "RunConfig": ("overtone.config", "RunConfig"),
    "SyncConfig": ("overtone.config", "SyncConfig"),
    "get_checkpoint": ("overtone.runtime", "get_checkpoint"),
    "get_context": ("overtone.runtime", "get_context"),
    "report": ("overtone.runtime", "report"),
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = sorted(_LAZY)
