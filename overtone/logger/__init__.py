"""Logger callbacks (``overtone.tune.logger``): result files, TensorBoard, MLflow, W&B.

``CSVLoggerCallback``, ``JsonLoggerCallback`` and, when tensorboardX or TensorBoard is
installed, ``TBXLoggerCallback`` run by default; :func:`default_logger_callbacks` says which
to add to the user's callbacks. The MLflow and W&B integrations import their library only
when used (``pip install 'overtone[mlflow]'``, ``'overtone[wandb]'``).
"""

from __future__ import annotations

from collections.abc import Iterable

from overtone._lazy import lazy_exports
from overtone.callbacks._base import Callback
from overtone.logger._base import LoggerCallback
from overtone.logger._json_csv import CSVLoggerCallback, JsonLoggerCallback
from overtone.logger._tensorboard import TBXLoggerCallback
from overtone.logger._tfevents import backend_available

# The integrations' modules are imported when first used: every experiment imports this
# package for its default loggers.
_LAZY = {
    "MLflowLoggerCallback": "overtone.logger._mlflow",
    "setup_mlflow": "overtone.logger._mlflow",
    "WandbLoggerCallback": "overtone.logger._wandb",
    "setup_wandb": "overtone.logger._wandb",
}

__all__ = [
    "CSVLoggerCallback",
    "JsonLoggerCallback",
    "LoggerCallback",
    "MLflowLoggerCallback",
    "TBXLoggerCallback",
    "WandbLoggerCallback",
    "default_logger_callbacks",
    "setup_mlflow",
    "setup_wandb",
]


def default_logger_callbacks(user_callbacks: Iterable[Callback] | None = None) -> list[Callback]:
    """The default loggers that ``user_callbacks`` lacks: JSON, CSV and TensorBoard.

    A logger class is skipped when the user already passed an instance of it (or of a
    subclass), so that a configured one is not doubled. TensorBoard is included only when
    tensorboardX or TensorBoard is installed.

    Example::

        callbacks = [*default_logger_callbacks(user_callbacks), *user_callbacks]
    """
    given = list(user_callbacks or [])
    wanted: list[type[Callback]] = [JsonLoggerCallback, CSVLoggerCallback]
    if backend_available() is not None:
        wanted.append(TBXLoggerCallback)
    return [cls() for cls in wanted if not any(isinstance(cb, cls) for cb in given)]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
