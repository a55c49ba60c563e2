"""Changing a study while it lives: a restored experiment with another param space or
another number of samples.

``Tuner.restore(path, trainable, param_space=new, tune_config=TuneConfig(num_samples=more))``
and ``tune.run(..., resume=True, num_samples=more)`` continue an experiment with settings
that differ from those it was started with. The rules:

- ``num_samples`` is the total: more adds trials, fewer adds none (nothing is deleted).
- A param space that searches other domains than the recorded one (constants do not count)
  gets a fresh searcher over the new space,
  told about every finished trial first (``Searcher.add_evaluated_trials``: a warm start);
  with the same space, the searcher continues from its saved state.
- A trial whose config the new space cannot produce is kept, with its results, and marked
  ``out_of_space``; if it was unfinished, it is not resumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from overtone._errors import NotResumableError
from overtone._trial_factory import TrialFactory
from overtone.space import Domain, Function, is_grid_search
from overtone.space._variants import unresolved_paths

if TYPE_CHECKING:
    from collections import deque

    from overtone._experiment import ExperimentSpec
    from overtone._trial_state import Trial
    from overtone._trial_table import TrialTable


def space_key(space: Any) -> str:
    """A text that is equal for param spaces that search the same: domains by their
    description, grids by their values, ``sample_from`` by its function's name and place.
    Constants do not count: a new constant is for the trials to come, not a new study."""
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
    if isinstance(space, dict):  # keys that hold only constants search nothing
        items = sorted((str(k), key) for k, v in space.items() if (key := space_key(v)) != "-")
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}" if items else "-"
    if isinstance(space, list):
        keys = [space_key(v) for v in space]
        return "[" + ",".join(keys) + "]" if any(k != "-" for k in keys) else "-"
    return "-"


def config_fits(config: Any, space: Any) -> bool:
    """Whether ``space`` could have produced ``config``'s searched values: every domain's
    value is one it can draw, every grid's value one of its values (constants and
    ``sample_from`` entries accept anything, as in :func:`space_key`)."""
    if isinstance(space, Function):
        return True
    if is_grid_search(space):
        return any(
            config_fits(config, option) if unresolved_paths(option) else bool(config == option)
            for option in space["grid_search"]
        )
    if isinstance(space, Domain):
        categories = getattr(space, "categories", None)
        if categories is not None:  # a choice: of values, or of branches with domains
            return any(
                config_fits(config, c) if unresolved_paths(c) else bool(config == c)
                for c in categories
            )
        try:
            return bool(space.is_valid(config))
        except (TypeError, ValueError):
            return False
    if isinstance(space, dict):
        if not isinstance(config, dict):
            return False
        return all(k in config and config_fits(config[k], v) for k, v in space.items())
    if isinstance(space, list):
        if not isinstance(config, list) or len(config) != len(space):
            return False
        return all(config_fits(c, s) for c, s in zip(config, space))
    return True  # a constant


def continue_study(
    spec: ExperimentSpec,
    restored: Any,
    trials: TrialTable,
    queue: deque[Trial],
    prune: Callable[[Trial], Any],
) -> TrialFactory:
    """Take a restored experiment's trials into ``trials`` (the unfinished ones, in the new
    space, into ``queue``) and its scheduler's and searcher's state into ``spec``'s; return
    the trial factory that continues its naming."""
    factory = TrialFactory(spec, restored.prefix, restored.count)
    state = restored.search_state
    if state is not None and "error" in state:
        raise NotResumableError(
            f"this experiment cannot be resumed: its searcher could not save its state "
            f"({state['error']}); its finished trials are kept in {spec.experiment_path}"
        )
    # A param space other than the recorded one: the study changes.
    changed = (
        state is not None
        and "space_key" in state
        and state["space_key"] != space_key(spec.param_space)
    )
    for trial in restored.trials:
        trials.add(trial)
        prune(trial)  # marks which ones are the best
        if changed and not config_fits(trial.config, spec.param_space):
            trial.out_of_space = True
        if not trial.status.is_finished() and not trial.out_of_space:
            queue.append(trial)
    if state is not None:
        spec.scheduler.set_state(state["scheduler"])
        if changed:  # a fresh searcher over the new space, told what is known
            finished = [t.snapshot() for t in restored.trials if not t.out_of_space]
            if spec.metric is not None:  # without one there is nothing to learn
                spec.searcher.add_evaluated_trials(finished, spec.metric)
        else:
            spec.searcher.set_state(state["searcher"])
    for trial in restored.trials:  # only the entries of finished trials are kept
        if trial.status.is_finished() or trial.out_of_space:
            trials.retire(trial)
    return factory
