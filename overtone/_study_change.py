"""Changing a study while it lives: a restored experiment with another param space or
another number of samples.

``Tuner.restore(path, trainable, param_space=new, tune_config=TuneConfig(num_samples=more))``
and ``tune.run(..., resume=True, num_samples=more)`` continue an experiment with settings
that differ from those it was started with. The rules:

- ``num_samples`` is the total: more adds trials, fewer adds none (nothing is deleted).
- A param space that differs from the recorded one gets a fresh searcher over the new space,
  told about every finished trial first (``Searcher.add_evaluated_trials``: a warm start);
  with the same space, the searcher continues from its saved state.
- A trial whose config the new space cannot produce is kept, with its results, and marked
  ``out_of_space``; if it was unfinished, it is not resumed.
"""

from __future__ import annotations

from typing import Any

from overtone.search._sample import Domain, Function, is_grid_search


def space_key(space: Any) -> str:
    """A text that is equal for equal param spaces (domains by their description,
    ``sample_from`` functions by their code's name)."""
    if is_grid_search(space):
        return "grid(" + ",".join(space_key(v) for v in space["grid_search"]) + ")"
    if isinstance(space, Function):
        func = getattr(space, "func", None)
        code = getattr(func, "__code__", None)
        where = f"{code.co_filename}:{code.co_firstlineno}" if code is not None else repr(func)
        return f"sample_from({getattr(func, '__qualname__', '?')}@{where})"
    if isinstance(space, Domain):
        inner = getattr(space, "categories", None)
        if inner is not None:
            return f"{type(space).__name__}[" + ",".join(space_key(c) for c in inner) + "]"
        return f"{type(space).__name__}:{space.domain_str}"
    if isinstance(space, dict):
        items = sorted((str(k), space_key(v)) for k, v in space.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(space, (list, tuple)):
        return "[" + ",".join(space_key(v) for v in space) + "]"
    return repr(space)


def config_fits(config: Any, space: Any) -> bool:
    """Whether ``space`` could have produced ``config``: every domain's value is one it
    can draw, every grid's value one of its values, every constant equal; ``sample_from``
    entries accept anything."""
    if isinstance(space, Function):
        return True
    if is_grid_search(space):
        return any(config_fits(config, option) for option in space["grid_search"])
    if isinstance(space, Domain):
        categories = getattr(space, "categories", None)
        if categories is not None:  # a choice: of values, or of branches with domains
            return any(config_fits(config, c) for c in categories)
        try:
            return bool(space.is_valid(config))
        except (TypeError, ValueError):
            return False
    if isinstance(space, dict):
        if not isinstance(config, dict) or set(config) != set(space):
            return False
        return all(config_fits(config[k], v) for k, v in space.items())
    if isinstance(space, list):
        if not isinstance(config, list) or len(config) != len(space):
            return False
        return all(config_fits(c, s) for c, s in zip(config, space))
    return bool(config == space)
