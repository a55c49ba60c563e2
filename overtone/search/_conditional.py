"""Conditional (hierarchical) search spaces for the searchers that wrap a library.

A space is conditional when a ``tune.choice`` holds branches that search something
themselves (a domain or a ``grid_search``)::

    {"model": tune.choice([
        {"type": "svm", "C": tune.loguniform(1e-3, 1e3)},
        {"type": "rf", "n": tune.grid_search([10, 100])},
    ])}

The basic generator samples the branch, then what it holds (and expands its grid). A library
searcher instead asks its library, parameter by parameter, along the branch it chose:
:func:`resolve` walks the space and calls ``pick_index`` for each choice of branches (and each
grid, which a library searches as a categorical) and ``pick_value`` for each domain. Each
parameter inside a branch is labelled with the branch index (``model/1/n``), so that two
branches may hold parameters of one name with different ranges. Optuna's define-by-run
``suggest_*`` and HyperOpt's nested ``hp.choice`` are built on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from overtone.search._convert import has_searchable
from overtone.space._domains import Categorical, Domain, Function, is_grid_search
from overtone.space._variants import path_str

Path = tuple[Any, ...]
PickIndex = Callable[[str, list[Any]], int]
PickValue = Callable[[str, Path, Domain], Any]


def is_conditional(value: Any) -> bool:
    """A ``tune.choice`` one of whose categories searches something itself."""
    return isinstance(value, Categorical) and any(has_searchable(c) for c in value.categories)


def has_conditional(space: Any) -> bool:
    """Whether ``space`` holds a conditional choice anywhere (a grid's values included)."""
    if is_conditional(space):
        return True
    if is_grid_search(space):
        return any(has_searchable(v) for v in space["grid_search"])
    if isinstance(space, dict):
        return any(has_conditional(v) for v in space.values())
    if isinstance(space, list):
        return any(has_conditional(v) for v in space)
    return False


def resolve(
    value: Any,
    pick_index: PickIndex,
    pick_value: PickValue,
    path: Path = (),
    label: Path = (),
) -> Any:
    """``value`` with every choice of branches, grid and domain replaced by what the
    callbacks pick; constants and ``sample_from`` entries stay (the controller resolves the
    latter). ``label`` is the parameter's name path, branch indices included."""
    if is_grid_search(value) or is_conditional(value):
        options = value["grid_search"] if is_grid_search(value) else value.categories
        index = pick_index(path_str(label), list(options))
        branch = (*label, index) if has_searchable(options[index]) else label
        return resolve(options[index], pick_index, pick_value, path, branch)
    if isinstance(value, Function):
        return value
    if isinstance(value, Domain):
        return pick_value(path_str(label), path, value)
    if isinstance(value, dict):
        items = value.items()
        return {k: resolve(v, pick_index, pick_value, (*path, k), (*label, k)) for k, v in items}
    if isinstance(value, list):
        pairs = enumerate(value)
        return [resolve(v, pick_index, pick_value, (*path, i), (*label, i)) for i, v in pairs]
    return value
