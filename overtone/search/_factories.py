"""``tune.create_searcher``: a searcher by name (``tune.create_scheduler`` is
``overtone.schedulers.create_scheduler``)."""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any

# name -> (module, class). Searchers whose library is missing still count as available:
# making one raises the ImportError that names the extra to install.
_SEARCHERS: dict[str, tuple[str, str]] = {
    "variant_generator": ("overtone.search._basic_variant", "BasicVariantGenerator"),
    "random": ("overtone.search._basic_variant", "BasicVariantGenerator"),
    "optuna": ("overtone.search.optuna", "OptunaSearch"),
    "hyperopt": ("overtone.search.hyperopt", "HyperOptSearch"),
    "bayesopt": ("overtone.search.bayesopt", "BayesOptSearch"),
    "nevergrad": ("overtone.search.nevergrad", "NevergradSearch"),
    "bohb": ("overtone.search.bohb", "TuneBOHB"),
}


def create_searcher(search_alg: str, **kwargs: Any) -> Any:
    """A searcher by name: ``"variant_generator"`` (or ``"random"``), ``"optuna"``,
    ``"hyperopt"``, ``"bayesopt"``, ``"nevergrad"`` or ``"bohb"``.

    As in Ray, keyword arguments the searcher does not take are left out (with a warning).

    Example::

        >>> from overtone import tune
        >>> searcher = tune.create_searcher("random", max_concurrent=4)
    """
    name = _name("search_alg", search_alg)
    if name not in _SEARCHERS:
        raise ValueError(f"search_alg is {search_alg!r}, but must be one of {sorted(_SEARCHERS)}")
    module, cls_name = _SEARCHERS[name]
    cls = getattr(importlib.import_module(module), cls_name)
    return cls(**_accepted(cls, kwargs))


def _name(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is {value!r}, but must be a name (a string)")
    return value.lower()


def _accepted(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    dropped = sorted(k for k in kwargs if k not in params)
    if dropped:
        warnings.warn(
            f"{cls.__name__} takes no {dropped}: left out",
            UserWarning,
            stacklevel=3,
        )
    return {k: v for k, v in kwargs.items() if k in params}
