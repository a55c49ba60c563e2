"""Framework callbacks, under Ray Tune's module paths (``ray.tune.integration.*``).

Each submodule is a thin adapter from a framework's training hooks to ``tune.report`` and
``tune.Checkpoint``; it imports its framework when it is imported, never before::

    from overtone.tune.integration.xgboost import TuneReportCheckpointCallback
    from overtone.tune.integration.lightgbm import TuneReportCheckpointCallback
    from overtone.tune.integration.pytorch_lightning import TuneReportCheckpointCallback
    from overtone.tune.integration.keras import TuneReportCheckpointCallback
"""

from __future__ import annotations

# No names here: each submodule imports its framework, so none is imported with the package.
__all__: list[str] = []
