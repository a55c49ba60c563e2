"""Population Based Training, Jaderberg et al., "Population Based Training of Neural
Networks" (2017).

Every ``perturbation_interval`` (of ``time_attr``), a trial in the bottom ``quantile_fraction``
of the population *exploits* one of the top ``quantile_fraction``: it continues from that
trial's latest checkpoint, with that trial's config *explored* (resampled or perturbed). Each
exploit is written as one JSON line to ``pbt_global.txt`` and to ``pbt_policy_<trial_id>.txt``
(the trial's lineage) in the experiment folder::

    [old_tag, new_tag, old_trial_id, new_trial_id, old_step, new_step, old_config, new_config]

``old_*`` is the trial that exploits, ``new_*`` the trial it clones; ``old_step`` is the
exploiting trial's ``training_iteration``, ``new_step`` that of the cloned checkpoint;
``old_config`` is the cloned trial's config and ``new_config`` the explored one, which the
exploiting trial runs with from ``new_step`` on. :class:`PopulationBasedTrainingReplay` reads
a policy file back.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from overtone._trial import FrozenTrial
from overtone.schedulers._base import Decision, TrialRestart, TrialScheduler
from overtone.schedulers._pbt_explore import check_mutations, explore
from overtone.schedulers._pbt_log import PolicyLog
from overtone.schedulers._pbt_rank import Ranking
from overtone.schedulers._util import (
    Seeded,
    check_mode,
    check_number,
    ensure_metric_mode,
    lookup,
    number,
    signed_score,
)
from overtone.storage._layout import checkpoint_iteration, checkpoint_name


@dataclass
class _Exploit:
    """An exploit decided: clone ``checkpoint`` of ``source_id`` and run with ``config``."""

    source_id: str
    source_tag: str
    source_config: dict[str, Any]
    checkpoint: str
    config: dict[str, Any]
    perturbation_time: float
    train_time: float


@dataclass
class _TrialState:
    tag: str
    path: str
    config: dict[str, Any]
    last_score: float | None = None
    last_checkpoint: str | None = None
    last_perturbation_time: float = 0.0
    last_train_time: float = 0.0
    iteration: int = 0
    paused_at: int | None = None  # paused here by this scheduler (synch): a checkpoint may be
    pending: _Exploit | None = None  # an exploit decided while it was paused (synch)
    finished: bool = False

    def track(self, trial_path: str, result: dict[str, Any]) -> bool:
        """Follow a result's iteration and checkpoint; whether it reported a checkpoint."""
        if self.paused_at is not None:
            self.probe_pause_checkpoint()
            self.paused_at = None
        iteration = result.get("training_iteration")
        if isinstance(iteration, int):
            self.iteration = iteration
        name = result.get("checkpoint_dir_name")
        if name:
            self.last_checkpoint = os.path.join(trial_path, str(name))
        return bool(name)

    def probe_pause_checkpoint(self) -> None:
        """A class trainable saves a checkpoint when paused, which no result reports."""
        if self.paused_at is None:
            return
        path = os.path.join(self.path, checkpoint_name(self.paused_at))
        known = -1 if self.last_checkpoint is None else checkpoint_step(self.last_checkpoint)
        if self.paused_at > known and os.path.isdir(path):
            self.last_checkpoint = path

    def checkpoint(self) -> str | None:
        """The latest checkpoint's folder, None if there is none (or it is gone)."""
        self.probe_pause_checkpoint()
        path = self.last_checkpoint
        if path is None or not os.path.isdir(path):
            return None
        return path


def checkpoint_step(path: str) -> int:
    """The iteration in a ``checkpoint_NNNNNN`` folder name, 0 if none."""
    return checkpoint_iteration(os.path.basename(path.rstrip(os.sep))) or 0


class PopulationBasedTraining(Seeded, TrialScheduler):
    """Population Based Training: weak trials copy strong ones' checkpoints and explore
    their configs.

    Trials must checkpoint: function trainables report checkpoints with ``tune.report(...,
    checkpoint=...)`` at least every ``perturbation_interval`` and resume from
    ``tune.get_checkpoint()``; class trainables implement ``save_checkpoint`` and
    ``load_checkpoint`` (with a ``checkpoint_frequency``). The exploiting trial restarts from
    the copied checkpoint with the new config (a :class:`TrialRestart`).

    Args:
        time_attr: the result key that measures progress (e.g. ``training_iteration``).
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
        perturbation_interval: how much ``time_attr`` between a trial's perturbations.
        burn_in_period: no perturbation before this much ``time_attr``.
        hyperparam_mutations: ``{name: spec}``; a spec is a list of values, a distribution
            (``tune.uniform(0, 1)``, ``tune.choice``...), a function returning a value, or a
            dict of these for a nested config.
        quantile_fraction: the fraction at the top (cloned) and at the bottom (replaced), 0
            to 0.5.
        resample_probability: the chance of drawing a fresh value instead of perturbing.
        perturbation_factors: the factors a numeric value is multiplied by, one drawn at random.
        custom_explore_fn: ``f(config) -> config``, applied after the mutations.
        log_config: write the policy files (``pbt_policy_<trial_id>.txt``, ``pbt_global.txt``).
        require_attrs: a result without ``time_attr`` or the metric is an error (else ignored).
        synch: perturb the whole population at once: trials pause at each perturbation time
            until all are there.
        seed: seeds every random choice (default: the experiment's ``seed``).

    Example::

        pbt = PopulationBasedTraining(
            time_attr="training_iteration", metric="loss", mode="min",
            perturbation_interval=5,
            hyperparam_mutations={"lr": tune.loguniform(1e-4, 1e-1), "batch": [16, 32, 64]},
        )
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        burn_in_period: float = 0.0,
        hyperparam_mutations: dict[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        check_number("perturbation_interval", perturbation_interval, low=0, strict=True)
        check_number("burn_in_period", burn_in_period, low=0)
        check_number("quantile_fraction", quantile_fraction)
        if not 0 <= quantile_fraction <= 0.5:
            raise ValueError(
                f"quantile_fraction is {quantile_fraction!r}, but must be between 0 and 0.5"
            )
        check_number("resample_probability", resample_probability)
        if not 0 <= resample_probability <= 1:
            raise ValueError(
                f"resample_probability is {resample_probability!r}, but must be between 0 and 1"
            )
        factors = list(perturbation_factors) if isinstance(perturbation_factors, Sequence) else []
        if not factors or any(number(f) is None for f in factors):
            raise ValueError(
                f"perturbation_factors is {perturbation_factors!r}, but must be a non-empty "
                "list of numbers"
            )
        if custom_explore_fn is not None and not callable(custom_explore_fn):
            raise ValueError(f"custom_explore_fn is {custom_explore_fn!r}, but must be callable")
        mutations = {} if hyperparam_mutations is None else hyperparam_mutations
        check_mutations(mutations)
        self._time_attr = time_attr
        self._perturbation_interval = perturbation_interval
        self._burn_in_period = burn_in_period
        self._hyperparam_mutations = mutations
        self._quantile_fraction = quantile_fraction
        self._resample_probability = resample_probability
        self._perturbation_factors = factors
        self._custom_explore_fn = custom_explore_fn
        self._log_config = log_config
        self._require_attrs = require_attrs
        self._synch = synch
        self._check_explore()
        self._states: dict[str, _TrialState] = {}
        self._ranking = Ranking(quantile_fraction)
        self._next_sync = max(perturbation_interval, burn_in_period)
        self._experiment_path: str | None = None
        self._num_checkpoints = 0
        self._num_perturbations = 0
        self._warned: set[str] = set()
        self._policy_log = PolicyLog()
        self._checked = False
        self._init_seed(seed)

    def _check_explore(self) -> None:
        if not self._hyperparam_mutations and self._custom_explore_fn is None:
            raise ValueError(
                "hyperparam_mutations is empty and custom_explore_fn is None, but "
                f"{type(self).__name__} needs at least one of them to explore configs"
            )

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        check_mode(mode)
        super().set_search_properties(metric, mode, **spec)
        if spec.get("experiment_path"):
            self._experiment_path = str(spec["experiment_path"])
        self._take_seed(spec)
        return True

    # -- trials ---------------------------------------------------------------------------
    def on_trial_add(self, trial: FrozenTrial) -> None:
        if not self._checked:
            ensure_metric_mode(self)
            self._checked = True
        if trial.trial_id not in self._states:
            self._states[trial.trial_id] = _TrialState(
                tag=trial.experiment_tag, path=trial.path, config=trial.config
            )

    def _state(self, trial: FrozenTrial) -> _TrialState:
        state = self._states.get(trial.trial_id)
        if state is None:
            self.on_trial_add(trial)
            state = self._states[trial.trial_id]
        return state

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, UserWarning, stacklevel=3)

    def _missing(self, what: str, name: str, result: dict[str, Any]) -> Decision:
        message = (
            f"{type(self).__name__} needs the {what} {name!r} in every result, but a result "
            f"has only {sorted(k for k in result if k != 'config')}; report it, or pass "
            f"require_attrs=False to skip such results"
        )
        if self._require_attrs:
            raise ValueError(message)
        self._warn_once(f"missing-{name}", message)
        return Decision.CONTINUE

    def on_trial_result(
        self, trial: FrozenTrial, result: dict[str, Any]
    ) -> Decision | TrialRestart:
        state = self._state(trial)
        state.config = trial.config
        if state.pending is not None:  # decided while it was paused: carry it out now
            plan, state.pending = state.pending, None
            restart = self._apply(trial.trial_id, state, plan)
            if restart is not None:
                return restart
        if state.track(trial.path, result):
            self._num_checkpoints += 1
        t = number(lookup(result, self._time_attr))
        if t is None:
            return self._missing("time_attr", self._time_attr, result)
        score = signed_score(result, self._metric, self._mode)
        if score is None:
            return self._missing("metric", str(self._metric), result)
        if t < self._burn_in_period or result.get("done"):
            return Decision.CONTINUE  # a trial that ends now is not worth exploiting
        if t - state.last_perturbation_time < self._perturbation_interval:
            return Decision.CONTINUE
        state.last_train_time = t
        state.last_score = score
        self._ranking.set(trial.trial_id, score)
        self._on_perturbation_result(trial, state, t, score)
        if not self._synch:
            state.last_perturbation_time = t
            if self._ranking.in_lower(trial.trial_id):
                exploit = self._exploit(trial.trial_id, state)
                if exploit is not None:
                    return exploit
            return Decision.CONTINUE
        if self._others_behind(trial.trial_id):
            state.paused_at = state.iteration
            return Decision.PAUSE
        answer = self._perturb_all(t, current=trial.trial_id)
        return answer if answer is not None else Decision.CONTINUE

    def _on_perturbation_result(
        self, trial: FrozenTrial, state: _TrialState, t: float, score: float
    ) -> None:
        """A result at a perturbation time (PB2 records its data here)."""

    # -- exploit and explore --------------------------------------------------------------
    def _exploit(self, trial_id: str, state: _TrialState) -> TrialRestart | None:
        plan = self._plan(trial_id, state)
        return None if plan is None else self._apply(trial_id, state, plan)

    def _plan(self, trial_id: str, state: _TrialState) -> _Exploit | None:
        """Pick a top trial to clone and explore its config (None if it cannot be cloned)."""
        k = self._ranking.quantile_size()
        if k == 0:
            return None
        source_id = self._ranking.top(int(self._rng.integers(k)))
        if source_id == trial_id:
            return None
        source = self._states[source_id]
        checkpoint = source.checkpoint()
        if checkpoint is None:
            self._warn_once(
                f"no-checkpoint-{source_id}",
                f"{type(self).__name__} would clone trial {source_id}, but it has no "
                "checkpoint yet: report checkpoints at least every perturbation_interval "
                "(tune.report(..., checkpoint=...)) so that trials can be cloned",
            )
            return None
        new_config = self._new_config(trial_id, state, source_id, source)
        if self._custom_explore_fn is not None:
            new_config = self._custom_explore_fn(new_config)
            if not isinstance(new_config, dict):
                raise ValueError(
                    f"custom_explore_fn returned {new_config!r}, but must return a config dict"
                )
        return _Exploit(
            source_id,
            source.tag,
            source.config,
            checkpoint,
            new_config,
            source.last_perturbation_time,
            source.last_train_time,
        )

    def _apply(self, trial_id: str, state: _TrialState, plan: _Exploit) -> TrialRestart | None:
        """Log the exploit and return the restart, if the checkpoint to clone is still there."""
        if not os.path.isdir(plan.checkpoint):
            self._warn_once(
                f"gone-{plan.checkpoint}",
                f"{type(self).__name__} meant trial {trial_id} to clone {plan.checkpoint}, "
                "but it was deleted meanwhile (checkpoint_config.num_to_keep?): skipped",
            )
            return None
        step = checkpoint_step(plan.checkpoint)
        if self._log_config:
            self._log_exploit(trial_id, state, plan, step)
        self._num_perturbations += 1
        state.config = plan.config
        state.last_checkpoint = os.path.join(state.path, os.path.basename(plan.checkpoint))
        state.iteration = step
        state.last_perturbation_time = plan.perturbation_time
        state.last_train_time = plan.train_time
        return TrialRestart(config=plan.config, checkpoint=plan.checkpoint)

    def _new_config(
        self, trial_id: str, state: _TrialState, source_id: str, source: _TrialState
    ) -> dict[str, Any]:
        new_config, _ = explore(
            source.config,
            self._hyperparam_mutations,
            self._rng,
            self._resample_probability,
            self._perturbation_factors,
        )
        return new_config

    def _log_exploit(self, trial_id: str, state: _TrialState, plan: _Exploit, step: int) -> None:
        folder = self._experiment_path or os.path.dirname(state.path)
        row = [
            state.tag,
            plan.source_tag,
            trial_id,
            plan.source_id,
            state.iteration,
            step,
            plan.source_config,
            plan.config,
        ]
        self._policy_log.record(folder, trial_id, plan.source_id, row)

    def flush_logs(self) -> None:
        """Write the policy logs of the exploits so far (``pbt_global.txt`` and each
        exploited trial's ``pbt_policy_<trial_id>.txt``); ``get_state`` does it too."""
        self._policy_log.flush()

    def get_state(self) -> dict[str, Any]:
        self.flush_logs()  # so that the logs on disk match the state saved
        return super().get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (also from before :class:`Ranking`)."""
        state = dict(state)
        if "_ranked" in state:  # saved before the ranking had a class of its own
            self._ranking = Ranking(state["_quantile_fraction"])
            for score, trial_id in state.pop("_ranked"):
                self._ranking.set(trial_id, score)
            state.pop("_rank_key", None)
        super().set_state(state)

    # -- synchronous mode -----------------------------------------------------------------
    def _live(self) -> list[str]:
        return [t for t, s in self._states.items() if not s.finished]

    def _others_behind(self, trial_id: str) -> bool:
        return any(
            s.last_train_time < self._next_sync
            for t, s in self._states.items()
            if t != trial_id and not s.finished
        )

    def _perturb_all(self, t: float, current: str | None) -> TrialRestart | None:
        """Everyone reached the perturbation time: exploit for the whole bottom quantile.
        The running trial (``current``) gets its restart back; paused ones get theirs at
        their next result."""
        lower, _ = self._ranking.quantiles()
        live = self._live()
        answer = None
        for trial_id in live:
            self._states[trial_id].last_perturbation_time = t
        for trial_id in lower:
            state = self._states[trial_id]
            plan = self._plan(trial_id, state)
            if plan is None:
                continue
            plan.perturbation_time = t
            if trial_id == current:
                answer = self._apply(trial_id, state, plan)
            else:
                state.pending = plan
        times = [self._states[x].last_train_time for x in live]
        self._next_sync = max([self._next_sync + self._perturbation_interval, *times])
        return answer

    def _maybe_sync(self) -> None:
        live = self._live()
        if not self._synch or not live:
            return
        if all(self._states[x].last_train_time >= self._next_sync for x in live):
            self._perturb_all(max(self._states[x].last_train_time for x in live), None)

    def _drop(self, trial_id: str) -> None:
        state = self._states.get(trial_id)
        if state is None:
            return
        state.finished = True
        state.pending = None
        self._ranking.remove(trial_id)
        self._maybe_sync()

    def on_trial_complete(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        self._drop(trial.trial_id)

    def on_trial_error(self, trial: FrozenTrial) -> None:
        self._drop(trial.trial_id)

    def on_trial_remove(self, trial: FrozenTrial) -> None:
        self._drop(trial.trial_id)

    def pending_restart(self, trial: FrozenTrial) -> TrialRestart | None:
        """The exploit decided for ``trial`` while it was paused (synch mode), now logged;
        None if there is none.

        A controller that calls this for a queued trial before launching it can apply the
        restart at once; otherwise the trial gets it at its next result (that iteration is
        then rewound)."""
        state = self._states.get(trial.trial_id)
        if state is None or state.pending is None:
            return None
        plan, state.pending = state.pending, None
        return self._apply(trial.trial_id, state, plan)

    def choose_trial_to_run(self, candidates: list[FrozenTrial]) -> FrozenTrial | None:
        best: FrozenTrial | None = None
        best_time = math.inf
        for c in candidates:
            state = self._states.get(c.trial_id)
            t = 0.0 if state is None else state.last_train_time
            if self._synch and state is not None and t >= self._next_sync:
                continue  # waits for the others
            if t < best_time:
                best, best_time = c, t
        return best

    def debug_string(self) -> str:
        return (
            f"{type(self).__name__}: {self._num_checkpoints} checkpoints, "
            f"{self._num_perturbations} perturbs"
        )
