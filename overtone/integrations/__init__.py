"""Integrations with experiment trackers, as ``ray.air.integrations`` has them.

``overtone.integrations.mlflow`` and ``overtone.integrations.wandb`` import their library
only when used.
"""
