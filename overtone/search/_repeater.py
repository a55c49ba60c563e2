"""A wrapper that runs each suggested config several times and reports the mean."""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from typing import Any

from overtone.search._base import Searcher
from overtone.space._variants import Path

TRIAL_INDEX = "__trial_index__"


class _Group:
    """The repeats of one suggested config."""

    def __init__(self, primary: str, config: dict[str, Any], size: int) -> None:
        self.primary = primary
        self.config = config
        self.size = size
        self.trial_ids = [primary]
        self.results: dict[str, dict[str, Any] | None] = {}
        self.errors: dict[str, bool] = {}

    def full(self) -> bool:
        return len(self.trial_ids) >= self.size

    def done(self) -> bool:
        return len(self.results) >= self.size


class Repeater(Searcher):
    """Suggests each config of ``searcher`` ``repeat`` times and tells ``searcher`` the mean
    of the repeats' metric once all of them are complete (``ray.tune.search.Repeater``).

    Useful when a trial's result is noisy (a random seed, a random data split). With
    ``set_index``, every repeat finds its index (0 to ``repeat - 1``) in its config under
    ``"__trial_index__"``, to seed itself differently. The wrapped searcher sees only the first
    trial of each group: its intermediate results, and at the end one completion whose result
    holds the mean of each metric over the repeats that reported it (an error if none did).
    ``num_samples`` should be a multiple of ``repeat``, or the last group is cut short and the
    wrapped searcher never hears of it.

    Args:
        searcher: the searcher to wrap.
        repeat: how many times to run each config (at least 1).
        set_index: put ``"__trial_index__"`` in each repeat's config.

    Example::

        >>> from overtone.search import BasicVariantGenerator
        >>> repeater = Repeater(BasicVariantGenerator(), repeat=3)
    """

    def __init__(self, searcher: Searcher, repeat: int = 1, set_index: bool = True) -> None:
        if not isinstance(searcher, Searcher):
            raise ValueError(f"searcher is {searcher!r}, but must be a Searcher")
        if isinstance(repeat, bool) or not isinstance(repeat, numbers.Integral) or repeat < 1:
            raise ValueError(f"repeat is {repeat!r}, but must be an integer >= 1")
        self.searcher = searcher
        self.repeat = int(repeat)
        self.set_index = set_index
        self._groups: dict[str, _Group] = {}  # every live trial id -> its group
        self._current: _Group | None = None

    # metric, mode and controls_trial_count are the wrapped searcher's.
    @property
    def metric(self) -> Any:
        return self.searcher.metric

    @property
    def mode(self) -> Any:
        return self.searcher.mode

    @property  # type: ignore[override]
    def controls_trial_count(self) -> bool:
        return self.searcher.controls_trial_count

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        num_samples = spec.get("num_samples")
        if (
            isinstance(num_samples, int)
            and not self.searcher.controls_trial_count
            and num_samples % self.repeat
        ):
            warnings.warn(
                f"num_samples is {num_samples}, which is not a multiple of repeat "
                f"({self.repeat}): the last config will be run fewer times and its results "
                "will not reach the searcher",
                UserWarning,
                stacklevel=2,
            )
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def add_evaluated_point(self, *args: Any, **kwargs: Any) -> bool:
        return self.searcher.add_evaluated_point(*args, **kwargs)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        group = self._current
        if group is None or group.full():
            config = self.searcher.suggest(trial_id)
            if config is None or (isinstance(config, str) and config == Searcher.FINISHED):
                return config
            group = self._current = _Group(trial_id, copy.deepcopy(config), self.repeat)
            index = 0
        else:
            index = len(group.trial_ids)
            group.trial_ids.append(trial_id)
        self._groups[trial_id] = group
        config = dict(group.config)
        if self.set_index:
            config[TRIAL_INDEX] = index
        return config

    @property
    def last_resolved_vars(self) -> Any:
        """The resolved vars of the config of a trial's group (for its tag); only there where
        the wrapped searcher suggests whole configs (as the BasicVariantGenerator does)."""
        if not hasattr(self.searcher, "last_resolved_vars"):
            raise AttributeError("last_resolved_vars")
        return self._resolved_vars

    def _resolved_vars(self, trial_id: str) -> dict[Path, Any]:
        group = self._groups[trial_id]
        resolved = dict(self.searcher.last_resolved_vars(group.primary))  # type: ignore[attr-defined]
        if self.set_index:
            resolved[(TRIAL_INDEX,)] = group.trial_ids.index(trial_id)
        return resolved

    def __getattr__(self, name: str) -> Any:
        # Reach the wrapped searcher's own API (e.g. total_samples), as ConcurrencyLimiter does.
        if name.startswith("_") or name in ("searcher", "last_resolved_vars"):
            raise AttributeError(name)
        return getattr(self.searcher, name)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        group = self._groups.get(trial_id)
        if group is not None and trial_id == group.primary:
            self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        group = self._groups.get(trial_id)
        if group is None or trial_id in group.results:
            return
        group.results[trial_id] = result
        group.errors[trial_id] = error
        if not group.done():
            return
        for tid in group.trial_ids:
            self._groups.pop(tid, None)
        if self._current is group:
            self._current = None
        mean_result, failed = self._mean(group)
        self.searcher.on_trial_complete(group.primary, result=mean_result, error=failed)

    def _mean(self, group: _Group) -> tuple[dict[str, Any] | None, bool]:
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        results = [
            r for tid, r in group.results.items() if r is not None and not group.errors[tid]
        ]
        base = group.results.get(group.primary) or (results[0] if results else None)
        if not results or any(m is None for m in metrics):
            return base, True
        merged = dict(base or {})
        for m in metrics:
            values = [float(r[m]) for r in results if _finite(r.get(m))]
            if not values:
                return base, True
            merged[m] = sum(values) / len(values)
        return merged, False

    def get_state(self) -> dict[str, Any]:
        groups: dict[int, _Group] = {id(g): g for g in self._groups.values()}
        if self._current is not None:
            groups[id(self._current)] = self._current
        return {
            "searcher": self.searcher.get_state(),
            "repeat": self.repeat,
            "set_index": self.set_index,
            "groups": [
                {
                    "primary": g.primary,
                    "config": g.config,
                    "size": g.size,
                    "trial_ids": list(g.trial_ids),
                    "results": dict(g.results),
                    "errors": dict(g.errors),
                    "current": g is self._current,
                }
                for g in groups.values()
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.searcher.set_state(state["searcher"])
        self.repeat = state["repeat"]
        self.set_index = state["set_index"]
        self._groups, self._current = {}, None
        for saved in state["groups"]:
            group = _Group(saved["primary"], copy.deepcopy(saved["config"]), saved["size"])
            group.trial_ids = list(saved["trial_ids"])
            group.results = dict(saved["results"])
            group.errors = dict(saved["errors"])
            for tid in group.trial_ids:
                self._groups[tid] = group
            if saved["current"]:
                self._current = group


def _finite(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
