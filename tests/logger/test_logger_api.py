"""The public names of the logger package, its facades, and what importing them costs."""

from __future__ import annotations

import subprocess
import sys


def test_logger_package_exports_exactly_these_names():
    import overtone.logger

    assert sorted(overtone.logger.__all__) == [
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
    for name in overtone.logger.__all__:
        assert getattr(overtone.logger, name) is not None


def test_ray_style_import_paths():
    from overtone.integrations.mlflow import MLflowLoggerCallback, setup_mlflow
    from overtone.integrations.wandb import WandbLoggerCallback, setup_wandb
    from overtone.logger import LoggerCallback
    from overtone.tune.logger import (
        CSVLoggerCallback,
        JsonLoggerCallback,
        TBXLoggerCallback,
    )
    from overtone.tune.logger import LoggerCallback as FacadeLoggerCallback

    assert FacadeLoggerCallback is LoggerCallback
    for cls in (
        CSVLoggerCallback,
        JsonLoggerCallback,
        TBXLoggerCallback,
        MLflowLoggerCallback,
        WandbLoggerCallback,
    ):
        assert issubclass(cls, LoggerCallback)
    assert callable(setup_mlflow) and callable(setup_wandb)


def test_importing_the_loggers_imports_no_optional_library():
    code = (
        "import sys, overtone.logger, overtone.tune.logger, overtone.integrations.mlflow, "
        "overtone.integrations.wandb, overtone.progress; "
        "print(sorted(m for m in ('numpy', 'pandas', 'mlflow', 'wandb', 'tensorboardX', "
        "'tensorboard', 'IPython') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
