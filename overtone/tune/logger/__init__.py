"""``overtone.tune.logger``: the logger callbacks, as ``ray.tune.logger`` names them."""

from __future__ import annotations

import json
from typing import Any

from overtone.logger import (
    CSVLoggerCallback,
    JsonLoggerCallback,
    LoggerCallback,
    TBXLoggerCallback,
)


def pretty_print(result: dict[str, Any], exclude: set[str] | None = None) -> str:
    """A result as indented, readable text (what Ray's examples print after ``train()``)."""
    shown = {k: v for k, v in result.items() if v is not None and k not in (exclude or ())}
    return json.dumps(shown, indent=2, sort_keys=True, default=str)


__all__ = [
    "CSVLoggerCallback",
    "JsonLoggerCallback",
    "LoggerCallback",
    "TBXLoggerCallback",
    "pretty_print",
]
