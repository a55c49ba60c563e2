"""A wrapper that caps how many trials a searcher has running at once."""

from __future__ import annotations

import numbers
from typing import Any

from overtone.search._base import Searcher


class ConcurrencyLimiter(Searcher):
    """Lets ``searcher`` have at most ``max_concurrent`` trials live (suggested, not complete).

    With ``batch=True`` the wrapped searcher sees completions only once a whole batch of
    ``max_concurrent`` trials (or, at the end, of all remaining live trials) has completed,
    and no trial is suggested before that.

    Args:
        searcher: the searcher to wrap.
        max_concurrent: at least 1.
        batch: suggest and report in batches of ``max_concurrent``.

    Example::

        >>> from overtone.search import BasicVariantGenerator
        >>> limited = ConcurrencyLimiter(BasicVariantGenerator(), max_concurrent=4)
    """

    def __init__(self, searcher: Searcher, max_concurrent: int, batch: bool = False) -> None:
        if not isinstance(searcher, Searcher):
            raise ValueError(f"searcher is {searcher!r}, but must be a Searcher")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, numbers.Integral):
            raise ValueError(f"max_concurrent is {max_concurrent!r}, but must be an integer")
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent is {max_concurrent}, but must be >= 1")
        self.searcher = searcher
        self.max_concurrent = int(max_concurrent)
        self.batch = batch
        self._live: set[str] = set()
        # batch mode: completions held back until the batch is done, in completion order.
        self._cached: dict[str, tuple[dict[str, Any] | None, bool]] = {}
        self._finished = False

    # metric, mode and controls_trial_count are the wrapped searcher's.
    @property
    def metric(self) -> str | None:
        return self.searcher.metric

    @property
    def mode(self) -> str | None:
        return self.searcher.mode

    @property  # type: ignore[override]
    def controls_trial_count(self) -> bool:
        return self.searcher.controls_trial_count

    @property
    def live_trials(self) -> frozenset[str]:
        """Trials suggested through this limiter that have not been released yet."""
        return frozenset(self._live)

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def add_evaluated_point(self, *args: Any, **kwargs: Any) -> bool:
        return self.searcher.add_evaluated_point(*args, **kwargs)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if len(self._live) >= self.max_concurrent:
            return None
        suggestion = self.searcher.suggest(trial_id)
        if suggestion == Searcher.FINISHED:
            self._finished = True
            self._flush_if_done(stalled=True)
        elif suggestion is None:
            # The searcher waits for results it would otherwise never get: release the batch.
            self._flush_if_done(stalled=True)
        else:
            self._live.add(trial_id)
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id not in self._live or trial_id in self._cached:
            return  # not suggested through this limiter (as in Ray), or already reported
        if not self.batch:
            self._live.discard(trial_id)
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            return
        self._cached[trial_id] = (result, error)
        self._flush_if_done()

    def _flush_if_done(self, stalled: bool = False) -> None:
        full = len(self._cached) >= self.max_concurrent
        all_done = bool(self._cached) and len(self._cached) == len(self._live)
        if not (full or (all_done and (stalled or self._finished))):
            return
        cached, self._cached = self._cached, {}
        for trial_id, (result, error) in cached.items():
            self._live.discard(trial_id)
            self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def get_state(self) -> dict[str, Any]:
        return {
            "searcher": self.searcher.get_state(),
            "max_concurrent": self.max_concurrent,
            "batch": self.batch,
            "live": sorted(self._live),
            "cached": dict(self._cached),
            "finished": self._finished,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.searcher.set_state(state["searcher"])
        self.max_concurrent = state["max_concurrent"]
        self.batch = state["batch"]
        self._live = set(state["live"])
        self._cached = dict(state["cached"])
        self._finished = state["finished"]

    def __getattr__(self, name: str) -> Any:
        # Reach the wrapped searcher's own API (e.g. last_resolved_vars, total_samples).
        if name.startswith("_") or name == "searcher":
            raise AttributeError(name)
        return getattr(self.searcher, name)
