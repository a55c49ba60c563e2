"""Overtone: experiment execution and hyperparameter tuning at any scale.

The public API lives in :mod:`overtone.tune`, a drop-in for ``ray.tune``::

    from overtone import tune
"""

__version__ = "0.1.0"
