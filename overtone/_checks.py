"""Argument checks and optional imports that every layer shares."""

from __future__ import annotations

import importlib
from typing import Any


def check_mode(mode: Any, name: str = "mode", *, required: bool = False) -> None:
    """Raise a ValueError unless ``mode`` is "min" or "max" (or None, unless ``required``)."""
    if mode is None and not required:
        return
    if mode not in ("min", "max"):
        raise ValueError(f"{name} is {mode!r}, but must be 'min' or 'max'")


def import_optional(module: str, user: str, extra: str, package: str | None = None) -> Any:
    """Import an optional library, or raise an ImportError that names the extra to install.

    Args:
        module: the module to import, e.g. ``"optuna"``.
        user: what needs it, for the message (``"OptunaSearch"``).
        extra: the pip extra that installs it (``pip install 'overtone[<extra>]'``).
        package: the package's name on PyPI, when it is not ``module``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"{user} needs {package or module}: pip install 'overtone[{extra}]'",
            name=module,
        ) from exc
