"""Asynchronous successive halving (ASHA), Li et al., "A System for Massively Parallel
Hyperparameter Tuning" (MLSys 2020).

Each bracket has rungs at ``grace_period * reduction_factor ** (k + s)`` (``s`` the bracket's
offset). When a trial reaches a rung, it goes on only if its score is in the top
``1 / reduction_factor`` of the scores recorded at that rung so far; nobody waits for anyone.

Given a list of metrics, it is MO-ASHA (Schmucker et al., "Multi-objective Asynchronous
Successive Halving", 2021): a trial at a rung goes on if it is among the first
``ceil(n / reduction_factor)`` of the ``n`` trials recorded there, ranked by Pareto front and,
inside a front, by an ε-net or crowding distance (``tie_break``).
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from overtone._pareto import TIE_BREAKS, pareto_mask, pareto_order
from overtone._trial import FrozenTrial
from overtone.schedulers._base import Decision, TrialScheduler
from overtone.schedulers._util import (
    Seeded,
    check_modes,
    check_number,
    ensure_metric_mode,
    number,
    objective_point,
    objectives,
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

    def judge(self, trial_id: str, score: float, quantile: float) -> bool:
        """Record the trial's score; True if it goes on."""
        cutoff = self.cutoff(quantile)
        self.record(trial_id, score)
        return cutoff is None or not (score < cutoff or score == -math.inf)

    def describe(self, quantile: float) -> str:
        cutoff = self.cutoff(quantile)
        return "None" if cutoff is None else f"{cutoff:.4g}"


class _ParetoRung:
    """The objective points (to minimize) recorded at one milestone of MO-ASHA."""

    __slots__ = ("milestone", "recorded", "tie_break")

    def __init__(self, milestone: float, tie_break: str) -> None:
        self.milestone = milestone
        self.recorded: dict[str, tuple[float, ...]] = {}
        self.tie_break = tie_break

    def judge(self, trial_id: str, point: tuple[float, ...], quantile: float) -> bool:
        """Record the trial's point; True if it ranks among the best ``1 - quantile`` of
        all those recorded here (itself included)."""
        first = not self.recorded
        self.recorded[trial_id] = point
        if any(x == math.inf for x in point):  # a NaN or missing objective: the worst
            return first
        if first:
            return True
        ids = list(self.recorded)
        order = pareto_order(np.array([self.recorded[i] for i in ids]), self.tie_break)
        keep = max(1, math.ceil(len(ids) * (1.0 - quantile) - 1e-9))
        position = int(np.flatnonzero(order == len(ids) - 1)[0])  # the trial is the last
        return position < keep

    def describe(self, quantile: float) -> str:
        if not self.recorded:
            return "None"
        front = pareto_mask(np.array(list(self.recorded.values())))
        return f"{len(self.recorded)} recorded, {int(front.sum())} on the front"


class _Bracket:
    """One bracket of ASHA: its rungs, highest milestone first."""

    __slots__ = ("rungs", "quantile")

    def __init__(
        self,
        min_t: float,
        max_t: float,
        reduction_factor: float,
        s: int,
        tie_break: str | None = None,
    ) -> None:
        milestones = []
        k = 0
        while True:
            milestone = min_t * reduction_factor ** (k + s)
            if milestone > max_t * (1 + 1e-12):
                break
            milestones.append(milestone)
            k += 1
        self.rungs: list[Any] = [
            _Rung(m) if tie_break is None else _ParetoRung(m, tie_break)
            for m in reversed(milestones)
        ]
        self.quantile = 1.0 - 1.0 / reduction_factor

    def on_result(self, trial_id: str, t: float, score: Any) -> Decision:
        for rung in self.rungs:
            if t < rung.milestone or trial_id in rung.recorded:
                continue
            if rung.judge(trial_id, score, self.quantile):
                return Decision.CONTINUE
            return Decision.STOP
        return Decision.CONTINUE

    def describe(self) -> str:
        parts = []
        for rung in reversed(self.rungs):
            parts.append(f"Iter {rung.milestone:.3f}: {rung.describe(self.quantile)}")
        return " | ".join(parts)


class AsyncHyperBandScheduler(Seeded, TrialScheduler):
    """Stops the trials whose score at a rung is below the top ``1 / reduction_factor``
    of the trials that reached that rung before them (ASHA).

    Args:
        time_attr: the result key that measures progress; it must increase.
        metric: the result key to optimize, or a list of keys (MO-ASHA: trials are ranked
            by Pareto front at each rung).
        mode: ``"min"`` or ``"max"``, or a list of them, one per metric.
        max_t: trials stop at this much ``time_attr`` (with ``stop_last_trials``).
        grace_period: the first rung: no trial is stopped before it.
        reduction_factor: the rung spacing and the fraction kept (``1 / reduction_factor``).
        brackets: how many brackets (bracket ``s`` starts at ``grace_period * rf ** s``);
            each trial joins one at random, weighted towards those with more rungs.
        stop_last_trials: stop trials at ``max_t``; False lets them run on.
        seed: seeds the bracket choice (default: the experiment's ``seed``).
        tie_break: with several metrics, how trials on one Pareto front are ranked:
            ``"eps_net"`` (spread along the front first) or ``"crowding"`` (NSGA-II's).

    Example::

        scheduler = ASHAScheduler(metric="loss", mode="min", max_t=81, reduction_factor=3)
        tune.Tuner(train, tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=81))

        # Two objectives (MO-ASHA):
        scheduler = ASHAScheduler(metric=["loss", "latency"], mode=["min", "min"], max_t=81)
    """

    supports_multi_objective = True

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
        tie_break: str = "eps_net",
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break is {tie_break!r}, but must be one of {TIE_BREAKS}")
        self._tie_break = tie_break
        self._objectives: tuple[list[str], list[str]] | None = None
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
        self._num_brackets = brackets
        self._brackets = self._make_brackets(multi=isinstance(metric, (list, tuple)))
        sizes = np.array([len(b.rungs) for b in self._brackets], dtype=float)
        weights = np.exp(sizes - sizes.max())
        self._bracket_p = weights / weights.sum()
        self._trial_bracket: dict[str, _Bracket] = {}
        self._num_stopped = 0
        self._checked = False
        self._init_seed(seed)

    def _make_brackets(self, multi: bool) -> list[_Bracket]:
        tie_break = self._tie_break if multi else None
        return [
            _Bracket(self._grace_period, self._max_t, self._reduction_factor, s, tie_break)
            for s in range(self._num_brackets)
        ]

    def set_search_properties(self, metric: Any, mode: Any, **spec: Any) -> bool:
        check_modes(mode)
        super().set_search_properties(metric, mode, **spec)
        multi = isinstance(self._metric, (list, tuple))
        if multi != isinstance(self._brackets[0].rungs[0], _ParetoRung):
            self._brackets = self._make_brackets(multi)  # before any trial: nothing lost
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
            self._objectives = objectives(self)
            self._checked = True
        self._bracket_of(trial.trial_id)

    def _score(self, result: dict[str, Any]) -> Any:
        """The signed score (one metric) or the point to minimize (several)."""
        if self._objectives is None and isinstance(self._metric, (list, tuple)):
            self._objectives = objectives(self)
        if self._objectives is not None:
            return objective_point(result, *self._objectives)
        return signed_score(result, self._metric, self._mode)  # type: ignore[arg-type]

    def on_trial_result(self, trial: FrozenTrial, result: dict[str, Any]) -> Decision:
        t = number(result.get(self._time_attr))
        score = self._score(result)
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
        score = self._score(result)
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
