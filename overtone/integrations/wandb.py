"""Weights & Biases (``ray.air.integrations.wandb``): ``WandbLoggerCallback`` and
``setup_wandb``.

Needs wandb: ``pip install 'overtone[wandb]'``.
"""

from overtone.logger._wandb import WandbLoggerCallback, setup_wandb

__all__ = ["WandbLoggerCallback", "setup_wandb"]
