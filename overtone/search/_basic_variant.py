"""The default searcher: grid expansion and random sampling of the param space."""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from overtone.search._base import Searcher
from overtone.space._domains import is_grid_search
from overtone.space._variants import (
    LazyGenerator,
    Path,
    count_grid_variants,
    generate_variants,
    unresolved_paths,
    validate_space,
)

_MISSING = object()


class BasicVariantGenerator(Searcher):
    """Suggests every grid combination of the space ``num_samples`` times, sampling the
    random domains afresh each time (``ray.tune.search.BasicVariantGenerator``).

    The order is: each of ``points_to_evaluate``, then the repetitions of the whole space.
    As in Ray, every point takes the place of one of the ``num_samples`` repetitions: the
    point is merged into the space (its values override the space's, nested dicts merge) and
    the result is expanded like the space, so a point that leaves a grid variable open runs
    once per value of it, and keys it lacks are sampled. With more points than
    ``num_samples``, every point still runs and no plain repetition follows.

    Args:
        points_to_evaluate: partial or full configs to try first.
        max_concurrent: the most trials suggested and not yet complete; 0 for no limit.
        constant_grid_search: sample the random domains once per repetition and keep them
            across its grid combinations, instead of sampling for each combination.
        random_state: an int seed or a :class:`numpy.random.Generator`. Without one, the
            ``seed`` passed to :meth:`set_search_properties` is used, else fresh entropy.

    Example::

        >>> from overtone.search import grid_search, uniform
        >>> gen = BasicVariantGenerator(random_state=0)
        >>> gen.set_search_properties(
        ...     None, None, {"a": grid_search([1, 2]), "b": uniform(0, 1)}, num_samples=2)
        True
        >>> gen.total_samples
        4
        >>> [gen.suggest(str(i))["a"] for i in range(4)]
        [1, 2, 1, 2]
        >>> gen.suggest("4")
        'FINISHED'
    """

    controls_trial_count = True

    def __init__(
        self,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        max_concurrent: int = 0,
        constant_grid_search: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        points = list(points_to_evaluate or [])
        for i, point in enumerate(points):
            if not isinstance(point, dict):
                raise ValueError(f"points_to_evaluate[{i}] is {point!r}, but must be a dict")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, numbers.Integral):
            raise ValueError(f"max_concurrent is {max_concurrent!r}, but must be an integer")
        if max_concurrent < 0:
            raise ValueError(f"max_concurrent is {max_concurrent}, but must be >= 0 (0: no limit)")
        self._points = copy.deepcopy(points)
        self._max_concurrent = int(max_concurrent)
        self._constant_grid_search = constant_grid_search
        self._base_seed = _base_seed(random_state)
        self._space: dict[str, Any] | None = None
        self._num_samples = 1
        self._total = 0
        # Progress: the phase (a point, then a repetition) and the items done within it.
        self._phase = 0
        self._index = 0
        self._num_suggested = 0
        self._live: set[str] = set()
        self._resolved: dict[str, dict[Path, Any]] = {}
        self._stream: Iterator[tuple[int, int, dict[Path, Any], dict[str, Any]]] | None = None

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Take the space; ``spec`` may hold ``num_samples`` (default 1) and ``seed``."""
        super().set_search_properties(metric, mode, config)
        validate_space(config)
        num_samples = spec.get("num_samples", 1)
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
            raise ValueError(f"num_samples is {num_samples!r}, but must be an integer")
        if num_samples < 1:
            raise ValueError(f"num_samples is {num_samples}, but must be >= 1")
        self._space = config
        self._num_samples = int(num_samples)
        if self._base_seed is None:
            self._base_seed = _base_seed(spec.get("seed"))
        if self._base_seed is None:  # 128 bits of OS entropy, as numpy's SeedSequence() draws
            self._base_seed = int.from_bytes(os.urandom(16), "little")
        self._total = sum(count_grid_variants(self._phase_space(p)) for p in range(self._phases))
        self._stream = None
        return True

    @property
    def total_samples(self) -> int:
        """How many configs this generator will suggest in all (0 before it has a space).

        Exact unless a sampled value (say a ``choice`` of dicts) itself holds grid_search."""
        return self._total

    @property
    def _phases(self) -> int:
        return len(self._points) + max(0, self._num_samples - len(self._points))

    def _phase_space(self, phase: int) -> dict[str, Any]:
        assert self._space is not None
        if phase < len(self._points):
            return _merge_point(self._space, self._points[phase])
        return self._space

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._space is None:
            raise RuntimeError(
                "BasicVariantGenerator has no search space; call set_search_properties first"
            )
        if self._max_concurrent and len(self._live) >= self._max_concurrent:
            return None
        if self._stream is None:
            self._stream = self._iterate()
        try:
            phase, index, resolved, config = next(self._stream)
        except StopIteration:
            return Searcher.FINISHED
        self._phase, self._index = phase, index + 1
        self._num_suggested += 1
        self._live.add(trial_id)
        self._resolved[trial_id] = resolved
        return config

    def _iterate(self) -> Iterator[tuple[int, int, dict[Path, Any], dict[str, Any]]]:
        """The configs from the current position on; a phase is replayed from its start
        (its own seeded rng) and the items already suggested are skipped."""
        assert self._space is not None and self._base_seed is not None
        phase, skip = self._phase, self._index
        space_paths = unresolved_paths(self._space)
        while phase < self._phases:
            rng = LazyGenerator([self._base_seed, phase])  # numpy only if something samples
            variants = generate_variants(
                self._phase_space(phase), rng, constant_grid_search=self._constant_grid_search
            )
            is_point = phase < len(self._points)
            for index, (resolved, config) in enumerate(variants):
                if index < skip:
                    continue
                if is_point:
                    # Show the point's values in the tag like those of a sampled trial.
                    resolved = {**_lookup_all(config, space_paths), **resolved}
                yield phase, index, resolved, config
            phase, skip = phase + 1, 0

    def last_resolved_vars(self, trial_id: str) -> dict[Path, Any]:
        """The resolved vars of the config suggested for ``trial_id`` (for its tag), kept
        until the trial completes."""
        try:
            return self._resolved[trial_id]
        except KeyError:
            raise KeyError(f"no live trial {trial_id!r} was suggested by this generator") from None

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self._live.discard(trial_id)
        self._resolved.pop(trial_id, None)

    def get_state(self) -> dict[str, Any]:
        """Progress and settings; the space is not included (it may hold lambdas) and comes
        from :meth:`set_search_properties`, before or after :meth:`set_state`."""
        return {
            "metric": self._metric,
            "mode": self._mode,
            "points": self._points,
            "max_concurrent": self._max_concurrent,
            "constant_grid_search": self._constant_grid_search,
            "base_seed": self._base_seed,
            "phase": self._phase,
            "index": self._index,
            "num_suggested": self._num_suggested,
            "live": sorted(self._live),
            "resolved": dict(self._resolved),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._metric = state["metric"]
        self._mode = state["mode"]
        self._points = state["points"]
        self._max_concurrent = state["max_concurrent"]
        self._constant_grid_search = state["constant_grid_search"]
        self._base_seed = state["base_seed"]
        self._phase = state["phase"]
        self._index = state["index"]
        self._num_suggested = state["num_suggested"]
        self._live = set(state["live"])
        self._resolved = dict(state["resolved"])
        self._stream = None
        if self._space is not None:
            self._total = sum(
                count_grid_variants(self._phase_space(p)) for p in range(self._phases)
            )


def _base_seed(random_state: Any) -> int | None:
    if random_state is None:
        return None
    import numpy as np

    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state is {random_state}, but must be >= 0")
        return int(random_state)
    raise ValueError(
        f"random_state is {random_state!r}, but must be an int, a numpy Generator or None"
    )


def _merge_point(space: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """``space`` with ``point``'s values put in; dicts on both sides merge key by key."""
    merged = dict(space)
    for key, value in point.items():
        base = merged.get(key)
        if (
            isinstance(value, dict)
            and isinstance(base, dict)
            and not is_grid_search(base)
            and not is_grid_search(value)
        ):
            merged[key] = _merge_point(base, value)
        else:
            merged[key] = value
    return merged


def _lookup_all(config: Any, paths: list[Path]) -> dict[Path, Any]:
    found = {}
    for path in paths:
        value = config
        for p in path:
            if isinstance(value, dict) and p in value:
                value = value[p]
            elif isinstance(value, list) and isinstance(p, int) and 0 <= p < len(value):
                value = value[p]
            else:
                value = _MISSING
                break
        if value is not _MISSING:
            found[path] = value
    return found
