"""Writing an experiment's files: JSON encoding, atomic replacement, whole writes."""

from __future__ import annotations

import json
import os
from typing import Any


def json_default(value: Any) -> Any:
    """Make numpy scalars/arrays and other odd values JSON-serializable."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


_ENCODER = json.JSONEncoder(default=json_default, allow_nan=True)


def dumps(obj: Any) -> str:
    return _ENCODER.encode(obj)


def write_atomic(path: str, data: str | bytes) -> None:
    """Write a file so that a crash at any moment leaves either the old or the new one."""
    tmp = f"{path}.tmp{os.getpid()}"
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with open(tmp, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON, atomically (see :func:`write_atomic`)."""
    write_atomic(path, dumps(obj))


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written."""
    while data:
        data = data[os.write(fd, data) :]
