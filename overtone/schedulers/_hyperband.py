"""HyperBand, Li et al., "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
Optimization" (JMLR 2018), run synchronously as in the paper.

With ``R = max_t`` and ``eta = reduction_factor``, ``s_max = floor(log_eta(R))``. Bracket ``s``
(from ``s_max`` down to 0, then again) takes ``n = ceil((s_max + 1) / (s + 1) * eta ** s)``
trials; at rung ``i`` (0 to ``s``) its ``n_i = floor(n * eta ** -i)`` survivors run to
``r_i = R * eta ** (i - s)``. For ``R = 81, eta = 3``:

====  ==============================================
s     (n_i, r_i) per rung
====  ==============================================
4     (81, 1) (27, 3) (9, 9) (3, 27) (1, 81)
3     (34, 3) (11, 9) (3, 27) (1, 81)
2     (15, 9) (5, 27) (1, 81)
1     (8, 27) (2, 81)
0     (5, 81)
====  ==============================================

A trial that reaches its rung's milestone is paused (``Decision.PAUSE``) until every trial of
its bracket is there; then the best ``floor(n_i / eta)`` resume from their checkpoints and the
others stop. Given a list of metrics, "best" is by Pareto front, then by an ε-net or crowding
distance inside a front (as MO-ASHA, Schmucker et al. 2021, does asynchronously).
"""

from __future__ import annotations

import math
from typing import Any

from overtone._pareto import TIE_BREAKS, pareto_order
from overtone._trial import FrozenTrial
from overtone.schedulers._base import Decision, TrialScheduler
from overtone.schedulers._util import (
    check_modes,
    check_number,
    ensure_metric_mode,
    number,
    objective_point,
    objectives,
    signed_score,
)


def max_bracket_index(max_t: float, eta: float) -> int:
    """``floor(log_eta(max_t))``, exactly for powers of ``eta``."""
    s = 0
    while eta ** (s + 1) <= max_t * (1 + 1e-12):
        s += 1
    return s


class _Bracket:
    """One bracket: its members, the rung they are all working towards, and who waits."""

    def __init__(
        self, index: int, s: int, n: int, max_t: float, eta: float, tie_break: str = "eps_net"
    ) -> None:
        self.index = index
        self.tie_break = tie_break
        self.s = s
        self.n = n
        self.eta = eta
        self.milestones = [max_t * eta**i / eta**s for i in range(s + 1)]
        self.milestones[-1] = max_t
        self.members: list[str] = []
        self.out: set[str] = set()  # stopped or finished
        self.level = 0  # the rung every live member works towards
        # At the current milestone: trial -> signed score, or point to minimize (several
        # objectives).
        self.arrived: dict[str, Any] = {}
        self.promoted: list[str] = []  # paused survivors of the last rung, to resume
        self.closed = False  # no more members: the experiment has no more trials for it
        self.history: list[dict[str, Any]] = []  # the scores at each completed rung

    @property
    def milestone(self) -> float:
        return self.milestones[self.level]

    def filled(self) -> bool:
        return self.closed or len(self.members) >= self.n

    def live(self) -> list[str]:
        return [m for m in self.members if m not in self.out]

    def rung_complete(self) -> bool:
        if not self.filled():
            return False
        live = self.live()
        return bool(live) and all(m in self.arrived for m in live)

    def halve(self) -> tuple[list[str], list[str]]:
        """Successive halving of the current rung: (survivors, the rest)."""
        order = {m: i for i, m in enumerate(self.members)}
        if any(isinstance(v, tuple) for v in self.arrived.values()):
            ids = sorted(self.arrived, key=order.__getitem__)
            points = [self.arrived[m] for m in ids]
            ranked = [ids[i] for i in pareto_order(points, self.tie_break)]
        else:
            ranked = sorted(self.arrived, key=lambda m: (-self.arrived[m], order[m]))
        keep = max(1, int(math.floor(len(ranked) / self.eta + 1e-9)))
        self.history.append(dict(self.arrived))
        self.arrived = {}
        self.level += 1
        return ranked[:keep], ranked[keep:]


class HyperBandScheduler(TrialScheduler):
    """Synchronous HyperBand: brackets of successive halving, with pauses at rungs.

    Trials must be able to resume from a checkpoint: a class trainable saves one when it is
    paused; a function trainable should report checkpoints itself (``tune.report(...,
    checkpoint=...)``) and resume from ``tune.get_checkpoint()``.

    Args:
        time_attr: the result key that measures progress; it must increase.
        metric: the result key to optimize, or a list of keys (ranked by Pareto front).
        mode: ``"min"`` or ``"max"``, or a list of them, one per metric.
        max_t: the most ``time_attr`` a trial gets (``R`` in the paper).
        reduction_factor: ``eta`` in the paper.
        stop_last_trials: stop trials at ``max_t``; False lets the survivors run on.
        tie_break: with several metrics, how trials on one Pareto front are ranked:
            ``"eps_net"`` or ``"crowding"``.

    If the experiment has fewer trials than a bracket takes, the bracket closes with those
    it has once nothing else can run, and keeps ``floor(k / eta)`` (at least 1) of ``k``.
    """

    supports_multi_objective = True

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 81,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
        *,
        tie_break: str = "eps_net",
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break is {tie_break!r}, but must be one of {TIE_BREAKS}")
        self._tie_break = tie_break
        self._objectives: tuple[list[str], list[str]] | None = None
        check_number("max_t", max_t, low=0, strict=True)
        check_number("reduction_factor", reduction_factor, low=1, strict=True)
        self._time_attr = time_attr
        self._max_t = max_t
        self._eta = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._s_max = max_bracket_index(max_t, reduction_factor)
        self._brackets: list[_Bracket] = []
        self._trial_bracket: dict[str, _Bracket] = {}
        self._to_stop: set[str] = set()  # paused losers that must be stopped
        self._run_on: set[str] = set()  # past max_t, running on (stop_last_trials=False)
        self._stall: frozenset[str] | None = None
        self._num_stopped = 0
        self._checked = False

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        check_modes(mode)
        return super().set_search_properties(metric, mode, **spec)

    # -- brackets -------------------------------------------------------------------------
    def bracket_size(self, s: int) -> int:
        """How many trials bracket ``s`` takes: ``ceil((s_max + 1) / (s + 1) * eta ** s)``."""
        return int(math.ceil((self._s_max + 1) / (s + 1) * self._eta**s - 1e-9))

    def _new_bracket(self) -> _Bracket:
        index = len(self._brackets)
        s = self._s_max - index % (self._s_max + 1)
        bracket = _Bracket(index, s, self.bracket_size(s), self._max_t, self._eta, self._tie_break)
        self._brackets.append(bracket)
        return bracket

    def on_trial_add(self, trial: FrozenTrial) -> None:
        if not self._checked:
            ensure_metric_mode(self)
            self._objectives = objectives(self)
            self._checked = True
        if trial.trial_id in self._trial_bracket:
            return
        bracket = self._brackets[-1] if self._brackets else None
        if bracket is None or bracket.filled():
            bracket = self._new_bracket()
        bracket.members.append(trial.trial_id)
        self._trial_bracket[trial.trial_id] = bracket
        self._stall = None

    # -- results --------------------------------------------------------------------------
    def on_trial_result(self, trial: FrozenTrial, result: dict[str, Any]) -> Decision:
        trial_id = trial.trial_id
        if trial_id in self._to_stop:
            self._to_stop.discard(trial_id)
            return Decision.STOP
        bracket = self._trial_bracket.get(trial_id)
        if bracket is None:
            self.on_trial_add(trial)
            bracket = self._trial_bracket[trial_id]
        if trial_id in bracket.out:
            return Decision.CONTINUE if trial_id in self._run_on else Decision.STOP
        if trial_id in bracket.promoted:
            bracket.promoted.remove(trial_id)
        t = number(result.get(self._time_attr))
        if t is None or t < bracket.milestone or trial_id in bracket.arrived:
            return Decision.CONTINUE
        score = self._score(result)
        if bracket.level == len(bracket.milestones) - 1:
            bracket.arrived[trial_id] = score
            bracket.out.add(trial_id)
            if self._stop_last_trials:
                return Decision.STOP
            self._run_on.add(trial_id)
            return Decision.CONTINUE
        bracket.arrived[trial_id] = score
        if not bracket.rung_complete():
            return Decision.PAUSE
        survivors = self._process(bracket, running=trial_id)
        return Decision.CONTINUE if trial_id in survivors else Decision.STOP

    def _score(self, result: dict[str, Any]) -> Any:
        """The signed score (worst: -inf), or with several metrics the point to minimize
        (worst: +inf in every objective)."""
        if self._objectives is None and isinstance(self._metric, (list, tuple)):
            self._objectives = objectives(self)
        if self._objectives is not None:
            point = objective_point(result, *self._objectives)
            return point if point is not None else (math.inf,) * len(self._objectives[0])
        score = signed_score(result, self._metric, self._mode)  # type: ignore[arg-type]
        return -math.inf if score is None else score

    def _process(self, bracket: _Bracket, running: str | None = None) -> set[str]:
        """Halve the bracket's complete rung; returns the survivors. Paused survivors are
        promoted (resumed by :meth:`choose_trial_to_run`); paused losers are to be stopped."""
        survivors, losers = bracket.halve()
        for trial_id in losers:
            bracket.out.add(trial_id)
            self._num_stopped += 1
            if trial_id != running:
                self._to_stop.add(trial_id)
        bracket.promoted.extend(t for t in survivors if t != running)
        return set(survivors)

    def _drop(self, trial: FrozenTrial) -> None:
        """A trial ended (by itself, an error or someone else's decision)."""
        trial_id = trial.trial_id
        self._to_stop.discard(trial_id)
        bracket = self._trial_bracket.get(trial_id)
        if bracket is None or trial_id in bracket.out:
            return
        bracket.out.add(trial_id)
        bracket.arrived.pop(trial_id, None)
        if trial_id in bracket.promoted:
            bracket.promoted.remove(trial_id)
        if bracket.rung_complete():
            self._process(bracket)

    def on_trial_complete(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        self._drop(trial)

    def on_trial_error(self, trial: FrozenTrial) -> None:
        self._drop(trial)

    def on_trial_remove(self, trial: FrozenTrial) -> None:
        self._drop(trial)

    # -- choosing -------------------------------------------------------------------------
    def choose_trial_to_run(self, candidates: list[FrozenTrial]) -> FrozenTrial | None:
        chosen = self._pick(candidates)
        if chosen is not None:
            self._stall = None
            return chosen
        if not self._nothing_running(candidates):
            self._stall = None
            return None
        ids = frozenset(c.trial_id for c in candidates)
        if self._stall != ids:
            # Nothing runs: after this answer the controller adds a trial if it can (which
            # resets this). Asked again with nothing new, no more trials are coming.
            self._stall = ids
            return None
        self._stall = None
        for bracket in self._brackets:
            if not bracket.filled() and bracket.arrived:
                bracket.closed = True
                if bracket.rung_complete():
                    self._process(bracket)
        return self._pick(candidates)

    def _pick(self, candidates: list[FrozenTrial]) -> FrozenTrial | None:
        by_id = {c.trial_id: c for c in candidates}
        # A loser still paused: run it, so that it is stopped at its next result.
        for c in candidates:
            if c.trial_id in self._to_stop:
                return c
        for bracket in self._brackets:
            for trial_id in bracket.promoted:
                if trial_id in by_id:
                    return by_id[trial_id]
        for c in candidates:
            home = self._trial_bracket.get(c.trial_id)
            if home is None or c.trial_id not in home.arrived:
                return c
        return None

    def _nothing_running(self, candidates: list[FrozenTrial]) -> bool:
        queued = {c.trial_id for c in candidates}
        for bracket in self._brackets:
            for trial_id in bracket.members:
                if trial_id in bracket.out or trial_id in bracket.arrived:
                    continue
                if trial_id not in queued:
                    return False
        return True

    def trials_to_stop(self, candidates: list[FrozenTrial]) -> list[FrozenTrial]:
        """The queued (paused) trials this scheduler has decided to stop.

        A controller that calls this may end them as TERMINATED without running them again;
        one that does not gets them from :meth:`choose_trial_to_run` first, and they stop at
        their next result. Either way they leave the set of trials to stop."""
        out = [c for c in candidates if c.trial_id in self._to_stop]
        for c in out:
            self._to_stop.discard(c.trial_id)
        return out

    def debug_string(self) -> str:
        lines = [
            f"Using HyperBand: num_stopped={self._num_stopped} total_brackets="
            f"{len(self._brackets)}"
        ]
        for b in self._brackets:
            live = len(b.live())
            lines.append(
                f"Bracket(s={b.s}, n={b.n}, rung {b.level}: r={b.milestone:g}, "
                f"live={live}, waiting={len(b.arrived)})"
            )
        return "\n".join(lines)
