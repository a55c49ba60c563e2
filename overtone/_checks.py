"""Argument checks, the number and loopback tests and optional imports that every layer
shares."""

from __future__ import annotations

import importlib
import ipaddress
import numbers
from typing import Any


def check_mode(mode: Any, name: str = "mode", *, required: bool = False) -> None:
    """Raise a ValueError unless ``mode`` is "min" or "max" (or None, unless ``required``)."""
    if mode is None and not required:
        return
    if mode not in ("min", "max"):
        raise ValueError(f"{name} is {mode!r}, but must be 'min' or 'max'")


def check_objectives(metric: Any, mode: Any) -> tuple[Any, Any]:
    """``metric`` and ``mode`` as given, with lists checked: same length, modes min/max.

    A single metric stays a string; a list of metrics needs a list of modes (or one mode,
    which is then used for every metric and returned as a list)."""
    if isinstance(metric, tuple):
        metric = list(metric)
    if isinstance(mode, tuple):
        mode = list(mode)
    if isinstance(metric, list):
        if not metric:
            raise ValueError("metric is an empty list, but must name at least one result key")
        bad = [m for m in metric if not isinstance(m, str) or not m]
        if bad:
            raise ValueError(f"metric is {metric!r}, but every entry must be a result key")
        if len(set(metric)) != len(metric):
            raise ValueError(f"metric is {metric!r}, but must not name a key twice")
        if isinstance(mode, str):
            mode = [mode] * len(metric)
    if isinstance(mode, list):
        if metric is not None and not isinstance(metric, list):
            raise ValueError(f"mode is the list {mode!r}, but metric {metric!r} is not a list")
        for m in mode:
            if m not in ("min", "max"):
                raise ValueError(f"mode is {mode!r}, but each entry must be 'min' or 'max'")
        if isinstance(metric, list) and len(metric) != len(mode):
            raise ValueError(
                f"metric has {len(metric)} entries and mode {len(mode)}, but there must be "
                "one mode for each metric"
            )
    elif mode is not None and mode not in ("min", "max"):
        raise ValueError(f"mode is {mode!r}, but must be 'min' or 'max'")
    return metric, mode


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


def is_number(value: Any) -> bool:
    """A real number (ints, floats, numpy scalars), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
