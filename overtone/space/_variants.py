"""Turning a param space into concrete configs: grid expansion, sampling and ``sample_from``.

A space is a dict whose values may nest dicts and lists. Leaves are constants,
:class:`~overtone.space._domains.Domain` objects, ``{"grid_search": [...]}`` entries or
``sample_from`` functions. Tuples and other objects are constants and are not looked into.
Constants are shared between configs, not copied; the dicts and lists around them are new.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported when a domain samples: a grid search never needs it
    import numpy as np

from overtone.space._domains import Domain, Function, is_grid_search

Path = tuple[Any, ...]


def path_str(path: Path) -> str:
    """``("model", "layers", 0)`` -> ``"model/layers/0"``."""
    return "/".join(str(p) for p in path)


def validate_space(space: Any) -> None:
    """Raise ValueError for a malformed space: not a dict, or a bad ``grid_search`` entry."""
    if not isinstance(space, dict):
        raise ValueError(f"param space is a {type(space).__name__}, but must be a dict")
    _validate(space, ())


def _validate(value: Any, path: Path) -> None:
    if isinstance(value, dict) and "grid_search" in value:
        where = path_str(path) or "top level"
        if len(value) > 1:
            others = sorted(str(k) for k in value if k != "grid_search")
            raise ValueError(
                f"dict at '{where}' has a 'grid_search' key beside other keys {others}; "
                "a grid_search must be alone in its dict"
            )
        values = value["grid_search"]
        if not isinstance(values, (list, tuple)):
            raise ValueError(
                f"grid_search at '{where}' is {values!r}, but must be a list or tuple of values"
            )
        if not values:
            raise ValueError(f"grid_search at '{where}' is empty, but at least one is needed")
        for v in values:
            _validate(v, path)
    elif isinstance(value, dict):
        for k, v in value.items():
            _validate(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _validate(v, (*path, i))


class LazyGenerator:
    """``numpy.random.default_rng(seed)``, made at its first use: a generator for
    :func:`generate_variants` that imports numpy only when a domain samples (a grid search
    alone draws nothing). Its draws are those of the generator it stands for."""

    __slots__ = ("_rng", "_seed")

    def __init__(self, seed: Any) -> None:
        self._seed = seed
        self._rng: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._rng is None:
            import numpy as np

            self._rng = np.random.default_rng(self._seed)
        return getattr(self._rng, name)


def count_grid_variants(space: Any) -> int:
    """How many configs one pass over ``space`` makes: the product of all grid sizes
    (a grid value that holds grids itself counts as that many)."""
    if is_grid_search(space):
        return sum(count_grid_variants(v) for v in space["grid_search"])
    if isinstance(space, dict):
        return math.prod(count_grid_variants(v) for v in space.values())
    if isinstance(space, list):
        return math.prod(count_grid_variants(v) for v in space)
    return 1


def generate_variants(
    space: dict[str, Any], rng: np.random.Generator, *, constant_grid_search: bool = False
) -> Iterator[tuple[dict[Path, Any], dict[str, Any]]]:
    """Yield ``(resolved_vars, config)`` for every grid combination of ``space``, lazily.

    The first grid variable varies fastest. Domains are sampled afresh for each combination
    (once for all of them with ``constant_grid_search``), in definition order, then
    ``sample_from`` functions run until all are resolved. ``resolved_vars`` maps the path of
    every grid, Domain and ``sample_from`` entry to its value in ``config``.

        >>> from overtone.space import grid_search
        >>> [c for _, c in generate_variants({"a": grid_search([1, 2])}, np.random.default_rng())]
        [{'a': 1}, {'a': 2}]
    """
    validate_space(space)
    for paths, config in _expand(space, rng, [], constant_grid_search):
        yield {p: _get(config, p) for p in paths}, config


def _expand(
    space: Any, rng: np.random.Generator, paths: list[Path], constant: bool
) -> Iterator[tuple[list[Path], dict[str, Any]]]:
    grids: list[tuple[Path, list[Any]]] = []
    domains: list[tuple[Path, Domain]] = []
    functions: list[Path] = []
    _collect(space, (), grids, domains, functions)
    if not grids and not domains:
        config = _build(space, (), {})
        _resolve_functions(config, functions, rng)
        spaced = [p for p in functions if _holds_space(_get(config, p))]
        if spaced:
            # A sample_from returned search-space objects (domains, grids, sample_from):
            # they are sampled (and grids expanded) in turn, and named by their own paths.
            done = [p for p in functions if p not in spaced]
            yield from _expand(config, rng, _merge_paths(paths, done), constant)
            return
        yield _merge_paths(paths, functions), config
        return
    fixed = _sample(domains, rng) if constant else None
    for combo in _grid_combinations(grids):
        assigned = {**combo, **(fixed if fixed is not None else _sample(domains, rng))}
        # Grid values may hold grids or Domains themselves: expand what was put in.
        config = _build(space, (), assigned)
        yield from _expand(config, rng, _merge_paths(paths, assigned), constant)


def _holds_space(value: Any) -> bool:
    if isinstance(value, Domain) or is_grid_search(value):
        return True
    if isinstance(value, dict):
        return any(_holds_space(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_space(v) for v in value)
    return False


def _merge_paths(paths: list[Path], new: Any) -> list[Path]:
    return paths + [p for p in new if p not in paths]


def _collect(
    value: Any,
    path: Path,
    grids: list[tuple[Path, list[Any]]],
    domains: list[tuple[Path, Domain]],
    functions: list[Path],
) -> None:
    if is_grid_search(value):
        grids.append((path, list(value["grid_search"])))
    elif isinstance(value, Function):
        functions.append(path)
    elif isinstance(value, Domain):
        domains.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _collect(v, (*path, k), grids, domains, functions)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _collect(v, (*path, i), grids, domains, functions)


def _grid_combinations(grids: list[tuple[Path, list[Any]]]) -> Iterator[dict[Path, Any]]:
    # itertools.product varies its last argument fastest; reversed, the first grid does.
    paths = [p for p, _ in reversed(grids)]
    for values in itertools.product(*(v for _, v in reversed(grids))):
        yield dict(zip(paths, values))


def _sample(domains: list[tuple[Path, Domain]], rng: np.random.Generator) -> dict[Path, Any]:
    return {path: domain.sample(rng) for path, domain in domains}


def _build(value: Any, path: Path, assigned: dict[Path, Any]) -> Any:
    """A copy of the dict/list structure of ``value`` with ``assigned`` paths replaced."""
    if path in assigned:
        return assigned[path]
    if isinstance(value, dict) and not is_grid_search(value):
        return {k: _build(v, (*path, k), assigned) for k, v in value.items()}
    if isinstance(value, list):
        return [_build(v, (*path, i), assigned) for i, v in enumerate(value)]
    return value


def unresolved_paths(space: Any, path: Path = ()) -> list[Path]:
    """Paths of the grid, Domain and ``sample_from`` entries of ``space``, in definition order
    (not looking into grid values)."""
    if is_grid_search(space) or isinstance(space, Domain):
        return [path]
    if isinstance(space, dict):
        return [p for k, v in space.items() for p in unresolved_paths(v, (*path, k))]
    if isinstance(space, list):
        return [p for i, v in enumerate(space) for p in unresolved_paths(v, (*path, i))]
    return []


def _get(config: Any, path: Path) -> Any:
    for p in path:
        config = config[p]
    return config


def _set(config: Any, path: Path, value: Any) -> None:
    _get(config, path[:-1])[path[-1]] = value


class _Unresolved(BaseException):
    """A sample_from read a value that is itself still waiting for its sample_from.

    A BaseException so that a user's ``except Exception`` cannot swallow it."""


class _SpecView:
    """Read-only view of a config being resolved: ``view.alpha`` and ``view["alpha"]``."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Any, path: Path) -> None:
        self._data = data
        self._path = path

    def _wrap(self, key: Any, value: Any) -> Any:
        path = (*self._path, key)
        if isinstance(value, Function):
            raise _Unresolved(path)
        if isinstance(value, (dict, list)):
            return _SpecView(value, path)
        return value

    def __getitem__(self, key: Any) -> Any:
        try:
            value = self._data[key]
        except (KeyError, IndexError, TypeError):
            where = path_str(self._path[1:]) or ("config" if self._path else "spec")
            raise KeyError(f"{where!r} has no key {key!r}") from None
        return self._wrap(key, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(e.args[0]) from None

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: Any) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[Any]:
        if isinstance(self._data, list):
            return (self[i] for i in range(len(self._data)))
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> list[tuple[Any, Any]]:
        return [(k, self[k]) for k in self._data]

    def values(self) -> list[Any]:
        return [self[k] for k in self._data]

    def __repr__(self) -> str:
        return f"SpecView({self._data!r})"


def _resolve_functions(
    config: dict[str, Any], functions: list[Path], rng: np.random.Generator
) -> None:
    """Run the sample_from functions at ``functions`` in ``config`` until all are resolved."""
    pending = list(functions)
    spec = _SpecView({"config": config}, ())
    while pending:
        waiting = []
        for path in pending:
            func: Function = _get(config, path)
            try:
                value = func.sample(rng, spec)
            except _Unresolved:
                waiting.append(path)
                continue
            except Exception as e:
                raise ValueError(
                    f"sample_from at '{path_str(path)}' raised {type(e).__name__}: {e}"
                ) from e
            _set(config, path, value)
        if len(waiting) == len(pending):
            names = ", ".join(f"'{path_str(p)}'" for p in waiting)
            raise ValueError(
                f"sample_from values at {names} depend on each other and cannot be resolved"
            )
        pending = waiting


_UNSAFE = re.compile(r"[^a-zA-Z0-9_.\-]+")


def _format_value(value: Any) -> str:
    if isinstance(value, float) or _is_numpy_float(value):
        return f"{float(value):.5g}".replace("e+", "e")
    return _UNSAFE.sub("_", str(value)).strip("_")


def _is_numpy_float(value: Any) -> bool:
    np = sys.modules.get("numpy")  # without numpy imported, nothing is a numpy float
    return np is not None and isinstance(value, np.floating)


def _short_name(path: Path) -> str:
    """The last path element, with the ones before it while it is a list index."""
    i = len(path) - 1
    while i > 0 and isinstance(path[i], int):
        i -= 1
    return ".".join(str(p) for p in path[max(i, 0) :])


def format_vars(resolved_vars: dict[Path, Any]) -> str:
    """The experiment tag fragment for a trial, e.g. ``alpha=0.001,beta=2``.

    Names are the last path element (``layers.0`` for a list item), or the whole path joined
    by ``.`` where two short names collide; floats show 5 significant digits; entries are
    sorted by path, as in Ray. Only ``[A-Za-z0-9_.=,-]`` is used, so the tag is safe in a
    file name.

        >>> format_vars({("beta",): 2, ("alpha",): 0.001, ("model", "layers", 0): 64})
        'alpha=0.001,beta=2,layers.0=64'
    """
    names = {path: _short_name(path) for path in resolved_vars}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    parts = []
    for path, value in sorted(resolved_vars.items(), key=lambda kv: [str(p) for p in kv[0]]):
        name = names[path] if counts[names[path]] == 1 else ".".join(str(p) for p in path)
        parts.append(f"{_UNSAFE.sub('_', name).strip('_')}={_format_value(value)}")
    return ",".join(parts)
