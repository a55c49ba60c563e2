"""Nested result dicts: flattening and path lookup, shared by every part that reads results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(values: Mapping[str, Any], delimiter: str = "/") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}``; empty mappings and other values stay as they are."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            for sub_key, sub_value in flatten(value, delimiter).items():
                flat[f"{key}{delimiter}{sub_key}"] = sub_value
        else:
            flat[str(key)] = value
    return flat


def lookup(values: Mapping[str, Any], key: str, default: Any = None, delimiter: str = "/") -> Any:
    """``values[key]``, where ``key`` may also be a path ``"a/b"`` into nested mappings."""
    if key in values:
        return values[key]
    node: Any = values
    for part in key.split(delimiter):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node
