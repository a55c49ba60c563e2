"""``overtone.tune.registry``: trainables by name, as ``ray.tune.registry`` has them.

``tune.register_trainable("my_trainable", train)`` lets ``tune.run("my_trainable")`` and
``tune.Tuner("my_trainable")`` name it. The registry lives in the driver: the trainable
itself is sent to the workers.
"""

from __future__ import annotations

import inspect
from typing import Any

_trainables: dict[str, Any] = {}


def register_trainable(name: str, trainable: Any, warn: bool = True) -> None:
    """Register ``trainable`` (a function or ``tune.Trainable`` class) under ``name``."""
    from overtone.runtime import Trainable

    if not isinstance(name, str) or not name:
        raise ValueError(f"name is {name!r}, but must be a non-empty string")
    if inspect.isclass(trainable):
        if not issubclass(trainable, Trainable):
            raise TypeError(f"trainable {trainable.__name__} is not a tune.Trainable subclass")
    elif not callable(trainable):
        raise TypeError(f"trainable is {trainable!r}, but must be a function or tune.Trainable")
    _trainables[name] = trainable


def get_trainable(name: str) -> Any:
    """The trainable registered under ``name``."""
    try:
        return _trainables[name]
    except KeyError:
        known = sorted(_trainables) or "none"
        raise ValueError(
            f"trainable is the string {name!r}, but no trainable was registered under that "
            f"name with tune.register_trainable() (registered: {known})"
        ) from None


__all__ = ["register_trainable"]
