"""PBT's explore step: checking mutation specs and perturbing a config with them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from overtone.schedulers._util import number
from overtone.space._domains import Categorical, Domain, is_grid_search

_MISSING: Any = object()


def check_mutations(mutations: Any, prefix: str = "") -> None:
    """Raise ValueError naming the key of a mutation spec PBT cannot use."""
    if not isinstance(mutations, dict):
        raise ValueError(
            f"hyperparam_mutations is {mutations!r}, but must be a dict of names to specs"
        )
    for key, spec in mutations.items():
        name = f"{prefix}{key}"
        rule = (
            "must be a list of values, a search-space distribution (tune.uniform & co.), "
            "a function, or a dict of these"
        )
        if is_grid_search(spec):
            raise ValueError(
                f"hyperparam_mutations['{name}'] is a grid_search, but {rule}: use a list"
            )
        if isinstance(spec, dict):
            if not spec:
                raise ValueError(f"hyperparam_mutations['{name}'] is an empty dict, but {rule}")
            check_mutations(spec, f"{name}/")
        elif isinstance(spec, (list, tuple)):
            if not spec:
                raise ValueError(f"hyperparam_mutations['{name}'] is an empty list, but {rule}")
        elif not isinstance(spec, Domain) and not callable(spec):
            raise ValueError(f"hyperparam_mutations['{name}'] is {spec!r}, but {rule}")


def explore(
    config: dict[str, Any],
    mutations: dict[str, Any],
    rng: Any,
    resample_probability: float,
    perturbation_factors: Sequence[float],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new config from ``config``: each mutated value is resampled (with
    ``resample_probability``, or when it is missing or not one of its choices), else shifted
    to a neighbouring choice (lists) or multiplied by a perturbation factor (distributions and
    functions; integers stay integers). Returns (new config, what was done to each key)."""
    new = copy_tree(config)
    ops: dict[str, Any] = {}
    for key, spec in mutations.items():
        current = config.get(key, _MISSING) if isinstance(config, dict) else _MISSING
        if isinstance(spec, dict):
            sub = current if isinstance(current, dict) else {}
            new[key], ops[key] = explore(
                sub, spec, rng, resample_probability, perturbation_factors
            )
            continue
        if isinstance(spec, Categorical):
            spec = spec.categories
        if isinstance(spec, (list, tuple)):
            index = _index(spec, current)
            if index is None or rng.random() < resample_probability:
                new[key] = spec[int(rng.integers(len(spec)))]
                ops[key] = "resample"
            else:
                shift = -1 if rng.random() < 0.5 else 1
                moved = min(max(index + shift, 0), len(spec) - 1)
                new[key] = spec[moved]
                side = "left" if shift < 0 else "right"
                ops[key] = f"shift {side}" + (" (noop)" if moved == index else "")
            continue
        if current is _MISSING or number(current) is None or rng.random() < resample_probability:
            new[key] = spec.sample(rng) if isinstance(spec, Domain) else spec()
            ops[key] = "resample"
        else:
            factor = perturbation_factors[int(rng.integers(len(perturbation_factors)))]
            value = current * factor
            if isinstance(current, int) and not isinstance(current, bool):
                value = int(value)
            new[key] = value
            ops[key] = f"* {factor}"
    return new, ops


def _index(choices: Sequence[Any], value: Any) -> int | None:
    if value is _MISSING:
        return None
    for i, c in enumerate(choices):
        if c is value or c == value:
            return i
    return None


def copy_tree(value: Any) -> Any:
    """A copy of the dicts and lists of a config; the values in them are shared (explore
    replaces values, it never changes one in place)."""
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value
