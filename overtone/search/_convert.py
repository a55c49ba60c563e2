"""What the library adapters (Optuna, HyperOpt, BayesOpt, Nevergrad) share.

An Overtone space is walked into a flat list of :class:`Param` s, each named by its path
(``{"model": {"lr": ...}}`` gives ``"model/lr"``), which is the name the library sees. The
library's values are decoded back (rounded to ``q``, cast to int, clamped, categories looked
up) and laid into a nested suggestion that the controller merges over the param space.
``grid_search`` entries cannot be searched by a model and raise; ``sample_from`` entries and
constants are left for the controller.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np

from overtone._checks import check_mode, is_number
from overtone.search._base import Searcher
from overtone.space._domains import (
    Categorical,
    Domain,
    Float,
    Function,
    Integer,
    Normal,
    is_grid_search,
)
from overtone.space._variants import Path, path_str

MISSING: Any = object()


@dataclass
class Param:
    """One searched parameter: where it goes in the config and what it is.

    ``domain`` is the Overtone domain, or None where the space gave the library's own object
    (``native``), whose values are used as the library returns them.
    """

    path: Path
    name: str
    domain: Domain | None = None
    native: Any = None


def parse_space(
    space: dict[str, Any], library: str, is_native: Callable[[Any], bool] | None = None
) -> list[Param]:
    """The searched parameters of ``space``, in definition order.

    Raises ValueError for a ``grid_search`` (naming the parameter and ``library``), or for two
    parameters that end up with the same flat name.
    """
    if not isinstance(space, dict):
        raise ValueError(f"{library} space is a {type(space).__name__}, but must be a dict")
    params: list[Param] = []
    _walk(space, (), library, is_native, params)
    seen: dict[str, Path] = {}
    for p in params:
        if p.name in seen:
            raise ValueError(
                f"parameters at {seen[p.name]!r} and {p.path!r} both get the name {p.name!r} "
                f"in {library}: rename one of them"
            )
        seen[p.name] = p.path
    return params


def _walk(
    value: Any,
    path: Path,
    library: str,
    is_native: Callable[[Any], bool] | None,
    out: list[Param],
) -> None:
    if is_grid_search(value):
        raise ValueError(
            f"parameter '{path_str(path)}' is a grid_search, which {library} cannot search: "
            "use tune.choice([...]) for a categorical parameter, or the default "
            "BasicVariantGenerator for a grid"
        )
    if isinstance(value, Function):
        return  # sample_from: the controller resolves it from the suggested values
    if isinstance(value, Domain):
        out.append(Param(path, path_str(path), value))
    elif is_native is not None and is_native(value):
        out.append(Param(path, path_str(path), None, value))
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, (*path, key), library, is_native, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, (*path, i), library, is_native, out)


def has_searchable(space: Any, is_native: Callable[[Any], bool] | None = None) -> bool:
    """Whether ``space`` holds anything a searcher would search (a Domain, a grid or a
    library object); ``sample_from`` and constants do not count."""
    if is_grid_search(space):
        return True
    if isinstance(space, Domain):
        return not isinstance(space, Function)
    if is_native is not None and is_native(space):
        return True
    if isinstance(space, dict):
        return any(has_searchable(v, is_native) for v in space.values())
    if isinstance(space, list):
        return any(has_searchable(v, is_native) for v in space)
    return False


def unsupported(library: str, param: Param, why: str) -> ValueError:
    """The error for a parameter a library cannot express."""
    assert param.domain is not None
    return ValueError(
        f"parameter '{param.name}' is {param.domain.domain_str}, which {library} cannot "
        f"express: {why}"
    )


# -- decoding the library's values -------------------------------------------------------------
def decoder(domain: Domain, *, by_index: bool = False) -> Any:
    """A function from the library's raw value to the Overtone value (rounded to ``q``, cast
    to int, clamped to the domain), or None for identity. ``by_index``: the library picks a
    category's index."""
    if isinstance(domain, Categorical):
        categories = domain.categories
        return (lambda raw: categories[int(raw)]) if by_index else None
    if isinstance(domain, Integer):
        return lambda raw: _round_int(raw, domain)
    if isinstance(domain, Float):
        return lambda raw: _round_float(raw, domain.q, domain.low, domain.high)
    if isinstance(domain, Normal):
        return lambda raw: _round_float(raw, domain.q, -math.inf, math.inf)
    return None


def _round_float(raw: Any, q: float | None, low: float, high: float) -> float:
    x = float(raw)
    if q is not None:
        x = float(np.round(x / q) * q)
    return min(max(x, low), high)


def _round_int(raw: Any, domain: Integer) -> int:
    k = int(np.round(float(raw) / domain.q))
    return min(max(k * domain.q, domain.low), domain.high)


def plain(value: Any) -> Any:
    """numpy scalars (and containers of them) as plain Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


# -- suggestions and points ------------------------------------------------------------------
def build_suggestion(values: dict[Path, Any], space: Any) -> dict[str, Any]:
    """A nested config with ``values`` at their paths, for the controller to merge over
    ``space``. A list on a path is copied whole from the space (the controller replaces lists
    rather than merging them), so its other items keep their constants and sample_froms."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        node: Any = out
        src = space
        for key in path[:-1]:
            src = _child(src, key)
            if isinstance(node, dict) and key not in node:
                node[key] = _copy_structure(src) if isinstance(src, list) else {}
            node = node[key]
        node[path[-1]] = value
    return out


def _child(src: Any, key: Any) -> Any:
    if isinstance(src, dict):
        return src.get(key)
    if isinstance(src, list) and isinstance(key, int) and 0 <= key < len(src):
        return src[key]
    return None


def _copy_structure(value: Any) -> Any:
    if isinstance(value, dict) and not is_grid_search(value):
        return {k: _copy_structure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_structure(v) for v in value]
    return value


def unflatten_names(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a/b": 1}`` -> ``{"a": {"b": 1}}``, for spaces given in a library's own terms."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        parts = name.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def flatten_point(point: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}`` (dicts only)."""
    flat = {}
    for key, value in point.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_point(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def lookup(point: dict[str, Any], param: Param) -> Any:
    """The value ``point`` gives ``param`` (a flat ``"a/b"`` key or a nested one), or MISSING."""
    if param.name in point:
        return point[param.name]
    node: Any = point
    for key in param.path:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return MISSING
    return node


def point_values(
    point: dict[str, Any], params: Sequence[Param], index: int, *, complete: bool = False
) -> dict[str, Any]:
    """``{param name: value}`` for the parameters ``point`` gives (all of them with
    ``complete``), each checked against its domain."""
    values = {}
    for param in params:
        value = lookup(point, param)
        if value is MISSING:
            if complete:
                raise ValueError(
                    f"points_to_evaluate[{index}] has no value for '{param.name}', but every "
                    "parameter needs one when evaluated_rewards are given"
                )
            continue
        if param.domain is not None and not param.domain.is_valid(value):
            raise ValueError(
                f"points_to_evaluate[{index}] has {param.name}={value!r}, which "
                f"{param.domain.domain_str} cannot produce"
            )
        values[param.name] = value
    return values


def category_index(categories: list[Any], value: Any) -> int:
    """The index of ``value`` among ``categories``."""
    for i, c in enumerate(categories):
        if c is value or c == value:
            return i
    raise ValueError(f"{value!r} is not one of the categories {categories!r}")


def check_points(
    points: Any, rewards: Any, *, multi: bool = False
) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """Validate ``points_to_evaluate`` and ``evaluated_rewards``; returns copies."""
    listed = [] if points is None else list(points)
    for i, point in enumerate(listed):
        if not isinstance(point, dict):
            raise ValueError(f"points_to_evaluate[{i}] is {point!r}, but must be a dict")
    if rewards is None:
        return listed, None
    rewards = list(rewards)
    if len(rewards) != len(listed):
        raise ValueError(
            f"evaluated_rewards has {len(rewards)} values, but must have one for each of the "
            f"{len(listed)} points_to_evaluate"
        )
    for i, reward in enumerate(rewards):
        ok = is_number(reward) or (
            multi and isinstance(reward, (list, tuple)) and all(is_number(r) for r in reward)
        )
        if not ok:
            kind = "a number or a list of numbers" if multi else "a number"
            raise ValueError(f"evaluated_rewards[{i}] is {reward!r}, but must be {kind}")
    return listed, rewards


def metric_value(result: dict[str, Any] | None, metric: str) -> float | None:
    """The finite float value of ``metric`` in ``result``, or None."""
    if not result or metric not in result:
        return None
    value = result[metric]
    if not is_number(value) or not math.isfinite(float(value)):
        return None
    return float(value)


class AdapterSearcher(Searcher):
    """Shared behaviour of the library adapters: the space may come from the constructor or
    from the experiment's param space (not both), the seed from the constructor or the
    experiment, and metric and mode must be known by the first ``suggest``."""

    #: The library's name in messages; the adapter's own name is its class name.
    library = "the library"

    def __init__(self, metric: str | None, mode: str | None) -> None:
        super().__init__(metric=metric, mode=mode)
        self._space_from_init = False
        self._num_samples: int | None = None

    # Subclasses implement these two.
    def _has_space(self) -> bool:
        raise NotImplementedError

    def _set_space(self, space: dict[str, Any]) -> None:
        raise NotImplementedError

    def _is_native(self, value: Any) -> bool:
        return False

    def _take_seed(self, seed: Any) -> None:
        """Use the experiment's ``seed`` unless the searcher was given its own."""

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        if isinstance(metric, list) or isinstance(mode, list):
            if not getattr(self, "supports_multi_objective", False):
                raise ValueError(
                    f"metric is the list {metric!r}, but {type(self).__name__} optimizes one "
                    "metric: use OptunaSearch (or the default search) for several"
                )
        else:
            check_mode(mode)
        super().set_search_properties(metric, mode, config)
        if has_searchable(config, self._is_native):
            if self._space_from_init:
                raise ValueError(
                    f"the param space holds parameters to search, but {type(self).__name__} "
                    "was given its own space: define the parameters in one place only (the "
                    "param space may still hold constants and sample_from entries)"
                )
            self._set_space(config)
        num_samples = spec.get("num_samples")
        if isinstance(num_samples, int):
            self._num_samples = num_samples
        self._take_seed(spec.get("seed"))
        return True

    def _check_ready(self) -> None:
        name = type(self).__name__
        if not self._has_space():
            raise RuntimeError(
                f"{name} has no search space: pass space= to {name}(...), or give the "
                "experiment a param space with parameters to search (tune.uniform & co.)"
            )
        if self._metric is None or self._mode is None:
            raise RuntimeError(
                f"{name} cannot suggest a config: its metric ({self._metric!r}) or mode "
                f"({self._mode!r}) is not set; pass metric= and mode= to {name}(...) or to "
                "tune.TuneConfig / tune.run"
            )

    def save(self, checkpoint_path: str) -> None:
        # cloudpickle: a space may hold lambdas (sample_from, define-by-run functions).
        with open(checkpoint_path, "wb") as f:
            f.write(cloudpickle.dumps(self.get_state()))
