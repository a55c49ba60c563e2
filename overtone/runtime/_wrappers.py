"""``tune.with_parameters`` and ``tune.with_resources``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from overtone._trial import Resources
from overtone.runtime._trainable import Trainable

RESOURCES_ATTR = "_overtone_resources"


def with_parameters(trainable: Any, **kwargs: Any) -> Any:
    """Pass extra objects (datasets, models) to a trainable besides its config.

    The objects are pickled once per experiment and sent to each worker process once,
    not once per trial. Example::

        def train(config, data=None):
            ...
        tune.run(tune.with_parameters(train, data=big_array), config=...)
    """
    if inspect.isclass(trainable) and issubclass(trainable, Trainable):
        base = trainable

        class _WithParameters(base):  # type: ignore[valid-type, misc]
            def setup(self, config: dict[str, Any]) -> None:
                base.setup(self, config, **kwargs)

        _WithParameters.__name__ = base.__name__
        _WithParameters.__qualname__ = base.__qualname__
        return _WithParameters
    if not callable(trainable):
        raise TypeError(f"trainable is {trainable!r}, but must be a function or tune.Trainable")
    params = inspect.signature(trainable).parameters
    missing = [
        k
        for k in kwargs
        if k not in params and not any(p.kind == p.VAR_KEYWORD for p in params.values())
    ]
    if missing:
        raise ValueError(
            f"with_parameters got {missing}, but {getattr(trainable, '__name__', trainable)} "
            f"takes no such parameter (it takes {list(params)})"
        )
    wants_ckpt = "checkpoint_dir" in params

    if wants_ckpt:

        @functools.wraps(trainable)
        def inner(config: dict[str, Any], checkpoint_dir: str | None = None) -> Any:
            return trainable(config, checkpoint_dir=checkpoint_dir, **kwargs)
    else:

        @functools.wraps(trainable)
        def inner(config: dict[str, Any]) -> Any:  # type: ignore[misc]
            return trainable(config, **kwargs)

    del inner.__wrapped__  # keep inspect.signature on the wrapper's own parameters
    if hasattr(trainable, RESOURCES_ATTR):
        setattr(inner, RESOURCES_ATTR, getattr(trainable, RESOURCES_ATTR))
    return inner


class _PerConfig:
    """A function of the config that returns resources, its answers made ``Resources``."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any]) -> None:
        self.fn = fn

    def __call__(self, config: dict[str, Any]) -> Resources:
        return Resources.coerce(coerce_resources(self.fn(config)))


def coerce_resources(value: Any) -> Any:
    """Resources as given by a user, with Ray's ``PlacementGroupFactory`` mapped onto
    ``Resources`` (it has ``to_resources()``); a function of the config is wrapped so that
    what it returns is mapped the same way. Dicts and None pass through unchanged."""
    to_resources = getattr(value, "to_resources", None)
    if to_resources is not None and not inspect.isclass(value):
        return to_resources()
    if callable(value) and not isinstance(value, (Resources, _PerConfig)):
        return _PerConfig(value)
    return value


def with_resources(
    trainable: Any, resources: dict[str, float] | Resources | Callable[[dict[str, Any]], Any]
) -> Any:
    """Attach per-trial resources: a dict, ``Resources``, ``tune.PlacementGroupFactory`` or
    a function of the config that returns one of these."""
    resources = coerce_resources(resources)
    if not callable(resources):
        resources = Resources.coerce(resources)
    if inspect.isclass(trainable):
        return type(trainable.__name__, (trainable,), {RESOURCES_ATTR: resources})

    @functools.wraps(trainable)
    def inner(*args: Any, **kw: Any) -> Any:
        return trainable(*args, **kw)

    setattr(inner, RESOURCES_ATTR, resources)
    return inner
