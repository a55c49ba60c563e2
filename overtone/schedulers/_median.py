"""The median stopping rule of Google Vizier (Golovin et al., KDD 2017).

A trial stops at time ``t`` if its best score so far is worse than the median, over the other
trials that got as far as ``t``, of their running averages up to ``t``.
"""

from __future__ import annotations

import statistics
from typing import Any

from overtone._trial import FrozenTrial
from overtone.schedulers._base import Decision, TrialScheduler
from overtone.schedulers._util import (
    check_mode,
    check_number,
    ensure_metric_mode,
    number,
    signed_score,
)


class MedianStoppingRule(TrialScheduler):
    """Stops trials that do worse than the median of the others at the same point.

    Args:
        time_attr: the result key that measures progress (``time_total_s`` by default; use
            ``training_iteration`` for runs that should not depend on the machine's speed).
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
        grace_period: no trial is stopped before this much ``time_attr``; the running
            averages start here too.
        min_samples_required: how many other trials must have got as far before a trial
            can be stopped.
        min_time_slice: with too few samples to judge, a trial that has run at least this
            long since it last yielded is paused for a waiting one (only if some trial waits).
        hard_stop: stop the trials below the median; False pauses them instead, and they may
            resume once nothing else waits.
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        min_time_slice: float = 0,
        hard_stop: bool = True,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        check_number("grace_period", grace_period, low=0)
        check_number("min_time_slice", min_time_slice, low=0)
        if (
            isinstance(min_samples_required, bool)
            or not isinstance(min_samples_required, int)
            or min_samples_required < 1
        ):
            raise ValueError(
                f"min_samples_required is {min_samples_required!r}, but must be an integer >= 1"
            )
        self._time_attr = time_attr
        self._grace_period = grace_period
        self._min_samples_required = min_samples_required
        self._min_time_slice = min_time_slice
        self._hard_stop = hard_stop
        # trial -> [(time, signed score)], in time order.
        self._results: dict[str, list[tuple[float, float]]] = {}
        self._stopped: set[str] = set()
        self._last_pause: dict[str, float] = {}
        self._waiting: set[str] = set()  # queued trials, as the last choose_trial_to_run saw
        self._checked = False

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        check_mode(mode)
        return super().set_search_properties(metric, mode, **spec)

    def on_trial_add(self, trial: FrozenTrial) -> None:
        if not self._checked:
            ensure_metric_mode(self)
            self._checked = True

    def on_trial_result(self, trial: FrozenTrial, result: dict[str, Any]) -> Decision:
        trial_id = trial.trial_id
        self._waiting.discard(trial_id)
        t = number(result.get(self._time_attr))
        score = signed_score(result, self._metric, self._mode)
        if t is None or score is None:
            return Decision.CONTINUE
        if trial_id in self._stopped:
            return Decision.CONTINUE  # soft-stopped and resumed: it runs on as in FIFO
        history = self._results.setdefault(trial_id, [])
        while history and history[-1][0] >= t:  # resumed from an earlier checkpoint
            history.pop()
        history.append((t, score))
        if t < self._grace_period:
            return Decision.CONTINUE
        others = [
            h for other, h in self._results.items() if other != trial_id and h and h[-1][0] >= t
        ]
        if len(others) < self._min_samples_required:
            return self._on_insufficient_samples(trial_id, t)
        means = [m for m in (self._running_mean(h, t) for h in others) if m is not None]
        if not means:
            return Decision.CONTINUE
        median = statistics.median(means)
        best = max(s for _, s in history)
        if best < median and t > self._grace_period:
            self._stopped.add(trial_id)
            return Decision.STOP if self._hard_stop else Decision.PAUSE
        return Decision.CONTINUE

    def _on_insufficient_samples(self, trial_id: str, t: float) -> Decision:
        if t - self._last_pause.get(trial_id, float("-inf")) > self._min_time_slice and (
            self._waiting - {trial_id}
        ):
            self._last_pause[trial_id] = t
            return Decision.PAUSE
        return Decision.CONTINUE

    def _running_mean(self, history: list[tuple[float, float]], t: float) -> float | None:
        scoped = [s for time, s in history if self._grace_period <= time <= t]
        if not scoped:
            return None
        return sum(scoped) / len(scoped)

    def choose_trial_to_run(self, candidates: list[FrozenTrial]) -> FrozenTrial | None:
        chosen = None
        for c in candidates:
            if c.trial_id not in self._stopped:
                chosen = c
                break
        if chosen is None and candidates:
            chosen = candidates[0]
        self._waiting = {c.trial_id for c in candidates}
        if chosen is not None:
            self._waiting.discard(chosen.trial_id)
        return chosen

    def on_trial_complete(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        self._waiting.discard(trial.trial_id)

    def on_trial_error(self, trial: FrozenTrial) -> None:
        self._waiting.discard(trial.trial_id)
        self._results.pop(trial.trial_id, None)

    def on_trial_remove(self, trial: FrozenTrial) -> None:
        self._waiting.discard(trial.trial_id)

    def debug_string(self) -> str:
        return f"Using MedianStoppingRule: num_stopped={len(self._stopped)}."
