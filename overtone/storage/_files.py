"""Writing an experiment's files: JSON encoding, atomic replacement, whole writes.

Every write here that fails because the disk is full raises :class:`StorageFullError`, which
names the path; an atomic write that fails leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from typing import Any

from overtone._errors import StorageFullError

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


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
_JSON_KEYS = (str, int, float, bool, type(None))
_SCALARS = frozenset((str, int, float, bool, type(None)))


def dumps(obj: Any) -> str:
    """``obj`` as JSON. A value JSON cannot hold as it is (a tuple key, a cycle) is written
    as its closest safe form (the key's ``repr``, ``"<cycle>"``) rather than failing."""
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError, RecursionError):
        return _ENCODER.encode(_safe(obj, ()))


def _safe(obj: Any, path: tuple[int, ...]) -> Any:
    if type(obj) in _SCALARS:
        return obj
    if id(obj) in path:
        return "<cycle>"
    inner = (*path, id(obj))
    if isinstance(obj, dict):
        return {
            (k if isinstance(k, _JSON_KEYS) else repr(k)): _safe(v, inner) for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [_safe(v, inner) for v in obj]
    try:
        _ENCODER.encode(obj)
    except (TypeError, ValueError, RecursionError):
        return repr(obj)
    return obj


def result_problem(result: Any) -> str | None:
    """Why ``result`` cannot be recorded as a trial's result, or None if it can.

    A result is a dict with string keys (metric names); values may be anything JSON can hold
    or :func:`json_default` converts (numpy values among them), nested dicts with string or
    number keys included, but no dict or list may contain itself.
    """
    if not isinstance(result, dict):
        return f"the result is {type(result).__name__} {result!r:.200}, but must be a dict"
    for key, value in result.items():
        if type(key) is not str:
            return (
                f"the result has the key {key!r} ({type(key).__name__}), but metric names "
                "must be strings"
            )
        if type(value) not in _SCALARS:
            problem = _value_problem(value, f"result[{key!r}]", (id(result),))
            if problem is not None:
                return problem
    return None


def _value_problem(value: Any, where: str, path: tuple[int, ...]) -> str | None:
    if isinstance(value, dict):
        if id(value) in path:
            return f"{where} contains itself (a circular reference), which cannot be recorded"
        inner = (*path, id(value))
        for key, item in value.items():
            if not isinstance(key, _JSON_KEYS) or (type(key) is float and key != key):
                return (
                    f"{where} has the key {key!r} ({type(key).__name__}), but keys must be "
                    "strings or numbers"
                )
            if type(item) not in _SCALARS:
                problem = _value_problem(item, f"{where}[{key!r}]", inner)
                if problem is not None:
                    return problem
    elif isinstance(value, (list, tuple)):
        if id(value) in path:
            return f"{where} contains itself (a circular reference), which cannot be recorded"
        inner = (*path, id(value))
        for index, item in enumerate(value):
            if type(item) not in _SCALARS:
                problem = _value_problem(item, f"{where}[{index}]", inner)
                if problem is not None:
                    return problem
    return None


def full_disk(exc: OSError, path: str) -> OSError:
    """``exc`` as a :class:`StorageFullError` naming ``path`` when the disk is full, else
    ``exc`` itself."""
    if isinstance(exc, StorageFullError) or exc.errno not in _FULL:
        return exc
    return StorageFullError(path, exc)


@contextlib.contextmanager
def atomic_file(path: str) -> Iterator[str]:
    """A temporary name to write ``path``'s new content to; renamed over ``path`` when the
    block ends, so that a crash at any moment leaves either the old or the new file.

    Raises:
        StorageFullError: the disk is full (the old file is kept, no temporary file is left).
    """
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and full_disk(exc, path) is not exc:
            raise full_disk(exc, path) from exc
        raise


def write_atomic(path: str, data: str | bytes) -> None:
    """Write a file atomically (see :func:`atomic_file`)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_file(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json_atomic(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON, atomically (see :func:`write_atomic`)."""
    write_atomic(path, dumps(obj))


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written."""
    while data:
        data = data[os.write(fd, data) :]
