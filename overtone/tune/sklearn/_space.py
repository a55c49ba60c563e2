"""Search spaces in scikit-learn's form (lists, scipy.stats distributions) and Overtone's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from overtone.search import Domain, choice, grid_search, loguniform, randint, randn, uniform


def is_grid_search(value: Any) -> bool:
    """Whether ``value`` is what ``tune.grid_search`` returns (``{"grid_search": [...]}``)."""
    return isinstance(value, dict) and len(value) == 1 and "grid_search" in value


def is_overtone_space(space: Any) -> bool:
    """Whether ``space`` uses Overtone's domains (``tune.uniform``, ``tune.grid_search``...)."""
    if not isinstance(space, Mapping):
        return False
    return any(isinstance(v, Domain) or is_grid_search(v) for v in space.values())


def _is_scipy_distribution(value: Any) -> bool:
    return hasattr(value, "rvs") and hasattr(value, "dist")


def scipy_to_domain(name: str, value: Any) -> Domain:
    """A frozen scipy.stats distribution as the Overtone domain with the same law."""
    dist = value.dist.name
    kwds = dict(value.kwds)
    args = list(value.args)

    def arg(i: int, key: str, default: Any = None) -> Any:
        return args[i] if len(args) > i else kwds.get(key, default)

    if dist == "uniform":
        loc, scale = arg(0, "loc", 0.0), arg(1, "scale", 1.0)
        return uniform(loc, loc + scale)
    if dist in ("loguniform", "reciprocal") and arg(2, "loc", 0) == 0 and arg(3, "scale", 1) == 1:
        return loguniform(arg(0, "a"), arg(1, "b"))
    if dist == "randint" and arg(2, "loc", 0) == 0:
        return randint(arg(0, "low"), arg(1, "high"))
    if dist == "norm":
        return randn(arg(0, "loc", 0.0), arg(1, "scale", 1.0))
    raise ValueError(
        f"param_distributions[{name!r}] is scipy.stats.{dist}{tuple(args)}, but this search "
        "takes only uniform, loguniform, randint and norm from scipy: use an Overtone domain "
        "(tune.uniform, tune.qloguniform, tune.sample_from...) for others"
    )


def to_overtone(space: Mapping[str, Any], *, grid: bool = False) -> dict[str, Any]:
    """A scikit-learn style (or mixed) space as an Overtone ``param_space``.

    Lists become ``tune.choice`` (``tune.grid_search`` when ``grid``), scipy distributions the
    matching domain; Overtone's domains and constants pass through.
    """
    out: dict[str, Any] = {}
    for name, value in space.items():
        if not isinstance(name, str):
            raise ValueError(f"parameter name {name!r} is not a string, but must be")
        if isinstance(value, Domain) or is_grid_search(value):
            out[name] = value
        elif _is_scipy_distribution(value):
            out[name] = scipy_to_domain(name, value)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            if len(value) == 0:
                raise ValueError(f"parameter {name!r} is an empty list, but must have values")
            out[name] = grid_search(list(value)) if grid else choice(list(value))
        else:
            out[name] = value
    return out
