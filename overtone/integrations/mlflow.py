"""MLflow (``ray.air.integrations.mlflow``): ``MLflowLoggerCallback`` and ``setup_mlflow``.

Needs mlflow: ``pip install 'overtone[mlflow]'``.
"""

from overtone.logger._mlflow import MLflowLoggerCallback, setup_mlflow

__all__ = ["MLflowLoggerCallback", "setup_mlflow"]
