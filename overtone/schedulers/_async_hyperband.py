"""Asynchronous successive halving (ASHA), Li et al., "A System for Massively Parallel
Hyperparameter Tuning" (MLSys 2020).

Each bracket has rungs at ``grace_period * reduction_factor ** (k + s)`` (``s`` the bracket's
offset). When a trial reaches a rung, it goes on only if its score is in the top
``1 / reduction_factor`` of the scores recorded at that rung so far; nobody waits for anyone.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from overtone._trial import FrozenTrial
from overtone.schedulers._base import Decision, TrialScheduler
from overtone.schedulers._util import (
    Seeded,
    check_mode,
    check_number,
    ensure_metric_mode,
    number,
    signed_score,
)


class _Rung:
    """The scores recorded at one milestone, kept sorted so that the cutoff is O(1)."""

    __slots__ = ("milestone", "recorded", "sorted")

    def __init__(self, milestone: float) -> None:
        self.milestone = milestone
        self.recorded: dict[str, float] = {}
        self.sorted: list[float] = []

    def cutoff(self, quantile: float) -> float | None:
        """The score at ``quantile`` of those recorded (linear interpolation, like
        ``numpy.percentile``), or None when nothing is recorded yet."""
        values = self.sorted
        n = len(values)
        if n == 0:
            return None
        pos = quantile * (n - 1)
        i = int(pos)
        frac = pos - i
        lo = values[i]
        if frac == 0.0 or i + 1 >= n:
            return lo
        if lo == -math.inf:
            return lo
        return lo + (values[i + 1] - lo) * frac

    def record(self, trial_id: str, score: float) -> None:
        self.recorded[trial_id] = score
        bisect.insort(self.sorted, score)


class _Bracket:
    """One bracket of ASHA: its rungs, highest milestone first."""

    __slots__ = ("rungs", "quantile")

    def __init__(self, min_t: float, max_t: float, reduction_factor: float, s: int) -> None:
        milestones = []
        k = 0
        while True:
            milestone = min_t * reduction_factor ** (k + s)
            if milestone > max_t * (1 + 1e-12):
                break
            milestones.append(milestone)
            k += 1
        self.rungs = [_Rung(m) for m in reversed(milestones)]
        self.quantile = 1.0 - 1.0 / reduction_factor

    def on_result(self, trial_id: str, t: float, score: float) -> Decision:
        for rung in self.rungs:
            if t < rung.milestone or trial_id in rung.recorded:
                continue
            cutoff = rung.cutoff(self.quantile)
            rung.record(trial_id, score)
            if cutoff is not None and (score < cutoff or score == -math.inf):
                return Decision.STOP
            return Decision.CONTINUE
        return Decision.CONTINUE

    def describe(self) -> str:
        parts = []
        for rung in reversed(self.rungs):
            cutoff = rung.cutoff(self.quantile)
            text = "None" if cutoff is None else f"{cutoff:.4g}"
            parts.append(f"Iter {rung.milestone:.3f}: {text}")
        return " | ".join(parts)


class AsyncHyperBandScheduler(Seeded, TrialScheduler):
    """Stops the trials whose score at a rung is below the top ``1 / reduction_factor``
    of the trials that reached that rung before them (ASHA).

    Args:
        time_attr: the result key that measures progress; it must increase.
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
        max_t: trials stop at this much ``time_attr`` (with ``stop_last_trials``).
        grace_period: the first rung: no trial is stopped before it.
        reduction_factor: the rung spacing and the fraction kept (``1 / reduction_factor``).
        brackets: how many brackets (bracket ``s`` starts at ``grace_period * rf ** s``);
            each trial joins one at random, weighted towards those with more rungs.
        stop_last_trials: stop trials at ``max_t``; False lets them run on.
        seed: seeds the bracket choice (default: the experiment's ``seed``).

    Example::

        scheduler = ASHAScheduler(metric="loss", mode="min", max_t=81, reduction_factor=3)
        tune.Tuner(train, tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=81))
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        check_number("max_t", max_t, low=0, strict=True)
        check_number("grace_period", grace_period, low=0, strict=True)
        if grace_period > max_t:
            raise ValueError(f"grace_period is {grace_period!r}, but must be <= max_t ({max_t!r})")
        check_number("reduction_factor", reduction_factor, low=1, strict=True)
        if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
            raise ValueError(f"brackets is {brackets!r}, but must be an integer >= 1")
        self._time_attr = time_attr
        self._max_t = max_t
        self._grace_period = grace_period
        self._reduction_factor = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._brackets = [
            _Bracket(grace_period, max_t, reduction_factor, s) for s in range(brackets)
        ]
        sizes = np.array([len(b.rungs) for b in self._brackets], dtype=float)
        weights = np.exp(sizes - sizes.max())
        self._bracket_p = weights / weights.sum()
        self._trial_bracket: dict[str, _Bracket] = {}
        self._num_stopped = 0
        self._checked = False
        self._init_seed(seed)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        check_mode(mode)
        super().set_search_properties(metric, mode, **spec)
        self._take_seed(spec)
        return True

    def _bracket_of(self, trial_id: str) -> _Bracket:
        bracket = self._trial_bracket.get(trial_id)
        if bracket is None:
            if len(self._brackets) == 1:
                bracket = self._brackets[0]
            else:
                index = int(self._rng.choice(len(self._brackets), p=self._bracket_p))
                bracket = self._brackets[index]
            self._trial_bracket[trial_id] = bracket
        return bracket

    def on_trial_add(self, trial: FrozenTrial) -> None:
        if not self._checked:
            ensure_metric_mode(self)
            self._checked = True
        self._bracket_of(trial.trial_id)

    def on_trial_result(self, trial: FrozenTrial, result: dict[str, Any]) -> Decision:
        t = number(result.get(self._time_attr))
        score = signed_score(result, self._metric, self._mode)
        if t is None or score is None:
            return Decision.CONTINUE
        if self._stop_last_trials and t >= self._max_t:
            return Decision.STOP
        decision = self._bracket_of(trial.trial_id).on_result(trial.trial_id, t, score)
        if decision is Decision.STOP:
            self._num_stopped += 1
        return decision

    def _record_final(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        if not result:
            return
        t = number(result.get(self._time_attr))
        score = signed_score(result, self._metric, self._mode)
        if t is not None and score is not None:
            self._bracket_of(trial.trial_id).on_result(trial.trial_id, t, score)

    def on_trial_complete(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        self._record_final(trial, result)

    def on_trial_remove(self, trial: FrozenTrial) -> None:
        self._record_final(trial, trial.last_result)

    def debug_string(self) -> str:
        lines = [f"Using AsyncHyperBand: num_stopped={self._num_stopped}"]
        lines += [f"Bracket: {b.describe()}" for b in self._brackets]
        return "\n".join(lines)


#: The name Ray Tune uses in examples.
ASHAScheduler = AsyncHyperBandScheduler
