"""Changing a running trial's resources between its iterations.

:class:`ResourceChangingScheduler` wraps another scheduler; after each result that scheduler
lets go on, it asks an allocation function for the trial's resources, and if they differ it
restarts the trial from its latest checkpoint with them (a :class:`TrialRestart`). Trials read
theirs with ``tune.get_context().get_trial_resources()``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from overtone._trial import FrozenTrial, Resources
from overtone.schedulers._base import Decision, TrialRestart, TrialScheduler
from overtone.schedulers._fifo import FIFOScheduler
from overtone.schedulers._util import signed_score


class TrialsView:
    """What an allocation function sees of the experiment (the first argument, where Ray
    Tune passes its controller): the live trials and the resources there are in all."""

    def __init__(self, scheduler: ResourceChangingScheduler) -> None:
        self._scheduler = scheduler

    def get_live_trials(self) -> list[FrozenTrial]:
        """The latest snapshot of every trial that has not ended."""
        return list(self._scheduler._live.values())

    @property
    def total_resources(self) -> Resources | None:
        """All the resources of the executor, or None if nobody said."""
        return self._scheduler._total_resources


class DistributeResources:
    """Spreads all the resources evenly over the live trials (the default allocation).

    Each trial gets its base resources (those it was created with) plus as many
    ``increase_by`` steps as its even share allows (at most ``increase_by_times``, unless -1).

    Args:
        add_bundles: accepted for compatibility with Ray Tune; trials here hold one bundle.
        increase_by: the step, e.g. ``{"cpu": 1}`` (default: one GPU for trials that use
            GPUs, else one CPU).
        increase_by_times: the most steps a trial may get; -1 for no limit.
        reserve_resources: resources to keep free, e.g. ``{"cpu": 1}``.
    """

    def __init__(
        self,
        add_bundles: bool = False,
        increase_by: dict[str, float] | None = None,
        increase_by_times: int = -1,
        reserve_resources: dict[str, float] | None = None,
    ) -> None:
        if isinstance(increase_by_times, bool) or not isinstance(increase_by_times, int):
            raise ValueError(f"increase_by_times is {increase_by_times!r}, but must be an int")
        self.add_bundles = add_bundles
        self.increase_by = _lower(increase_by or {})
        for key, value in self.increase_by.items():
            if key not in ("cpu", "gpu") or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(
                    f"increase_by[{key!r}] is {value!r}, but increase_by must map 'cpu' or "
                    "'gpu' to a number > 0"
                )
        self.increase_by_times = increase_by_times
        self.reserve_resources = _lower(reserve_resources or {})

    def _step(self, base: Resources) -> dict[str, float]:
        if self.increase_by:
            return self.increase_by
        return {"gpu": 1.0} if base.gpu > 0 else {"cpu": 1.0}

    def _steps(self, base: Resources, available: dict[str, float], share: float) -> int:
        """How many steps fit in ``share`` of ``available`` (per resource)."""
        step = self._step(base)
        fits = []
        for key, amount in step.items():
            room = available.get(key, 0.0) * share - getattr(base, key)
            fits.append(int(math.floor(room / amount + 1e-9)))
        steps = max(0, min(fits)) if fits else 0
        if self.increase_by_times >= 0:
            steps = min(steps, self.increase_by_times)
        return steps

    def _available(self, total: Resources) -> dict[str, float]:
        return {
            "cpu": max(0.0, total.cpu - self.reserve_resources.get("cpu", 0.0)),
            "gpu": max(0.0, total.gpu - self.reserve_resources.get("gpu", 0.0)),
        }

    def _grow(self, base: Resources, steps: int) -> Resources:
        step = self._step(base)
        return Resources(
            cpu=base.cpu + step.get("cpu", 0.0) * steps,
            gpu=base.gpu + step.get("gpu", 0.0) * steps,
            custom=dict(base.custom),
        )

    def __call__(
        self,
        view: TrialsView,
        trial: FrozenTrial,
        result: dict[str, Any],
        scheduler: ResourceChangingScheduler,
    ) -> Resources | None:
        total = view.total_resources
        if total is None:
            return None
        live = view.get_live_trials()
        if not live:
            return None
        base = scheduler.base_trial_resources(trial)
        return self._grow(base, self._steps(base, self._available(total), 1.0 / len(live)))


class DistributeResourcesToTopJob(DistributeResources):
    """Gives all the free resources to the best trial (by the scheduler's metric and mode);
    the others keep their base resources."""

    def __call__(
        self,
        view: TrialsView,
        trial: FrozenTrial,
        result: dict[str, Any],
        scheduler: ResourceChangingScheduler,
    ) -> Resources | None:
        total = view.total_resources
        live = view.get_live_trials()
        if total is None or not live:
            return None
        metric, mode = scheduler.metric, scheduler.mode
        base = scheduler.base_trial_resources(trial)

        def score(t: FrozenTrial) -> float:
            value = signed_score(t.last_result or {}, metric, mode)
            return -math.inf if value is None else value

        top = max(live, key=score)
        if top.trial_id != trial.trial_id:
            return base
        available = self._available(total)
        others = [scheduler.base_trial_resources(t) for t in live if t.trial_id != trial.trial_id]
        free = {
            "cpu": available["cpu"] - sum(r.cpu for r in others),
            "gpu": available["gpu"] - sum(r.gpu for r in others),
        }
        return self._grow(base, self._steps(base, free, 1.0))


def _lower(resources: dict[str, float]) -> dict[str, float]:
    return {str(k).lower(): float(v) for k, v in resources.items()}


class ResourceChangingScheduler(TrialScheduler):
    """Wraps a scheduler and changes trials' resources while they run.

    Args:
        base_scheduler: the scheduler that decides stops and pauses (default FIFO).
        resources_allocation_function: ``f(view, trial, result, scheduler)`` returning the
            trial's new resources (a dict, :class:`~overtone.tune.Resources`, or None for no
            change); ``view`` has ``get_live_trials()`` and ``total_resources``. Default:
            :class:`DistributeResources`. Called after each result the base scheduler lets go
            on; a change restarts the trial from its latest checkpoint (class trainables save
            one; function trainables should report checkpoints).
        total_resources: the resources there are in all, e.g. ``{"cpu": 8, "gpu": 1}``; the
            experiment passes them itself where the controller does.
    """

    def __init__(
        self,
        base_scheduler: TrialScheduler | None = None,
        resources_allocation_function: Callable[..., Any] | None = None,
        *,
        total_resources: dict[str, float] | Resources | None = None,
    ) -> None:
        super().__init__()
        if base_scheduler is not None and not isinstance(base_scheduler, TrialScheduler):
            raise ValueError(
                f"base_scheduler is {base_scheduler!r}, but must be a tune.schedulers scheduler"
            )
        if resources_allocation_function is not None and not callable(
            resources_allocation_function
        ):
            raise ValueError(
                f"resources_allocation_function is {resources_allocation_function!r}, "
                "but must be callable"
            )
        self._base = base_scheduler if base_scheduler is not None else FIFOScheduler()
        self._allocate = resources_allocation_function or DistributeResources()
        self._total_resources = (
            None if total_resources is None else Resources.coerce(total_resources)
        )
        self._live: dict[str, FrozenTrial] = {}
        self._base_resources: dict[str, Resources] = {}
        self._warned = False

    @property
    def metric(self) -> str | None:
        return self._base.metric

    @property
    def mode(self) -> str | None:
        return self._base.mode

    @property
    def base_scheduler(self) -> TrialScheduler:
        return self._base

    def base_trial_resources(self, trial: FrozenTrial) -> Resources:
        """The resources ``trial`` was created with."""
        return self._base_resources.get(trial.trial_id, trial.resources)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        total = spec.get("total_resources")
        if total is not None and self._total_resources is None:
            self._total_resources = Resources.coerce(total)
        return self._base.set_search_properties(metric, mode, **spec)

    def on_trial_add(self, trial: FrozenTrial) -> None:
        self._live[trial.trial_id] = trial
        self._base_resources.setdefault(trial.trial_id, trial.resources)
        self._base.on_trial_add(trial)

    def on_trial_result(
        self, trial: FrozenTrial, result: dict[str, Any]
    ) -> Decision | TrialRestart:
        self._live[trial.trial_id] = trial
        self._base_resources.setdefault(trial.trial_id, trial.resources)
        decision = self._base.on_trial_result(trial, result)
        if decision != Decision.CONTINUE:
            return decision
        if self._total_resources is None and isinstance(self._allocate, DistributeResources):
            if not self._warned:
                self._warned = True
                warnings.warn(
                    "ResourceChangingScheduler does not know the total resources, so it "
                    "changes nothing: pass total_resources={'cpu': ..., 'gpu': ...}",
                    UserWarning,
                    stacklevel=2,
                )
            return decision
        new = self._allocate(TrialsView(self), trial, result, self)
        if new is None:
            return decision
        new = Resources.coerce(new)
        if new == trial.resources:
            return decision
        return TrialRestart(resources=new)

    def on_trial_complete(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        self._live.pop(trial.trial_id, None)
        self._base.on_trial_complete(trial, result)

    def on_trial_error(self, trial: FrozenTrial) -> None:
        self._live.pop(trial.trial_id, None)
        self._base.on_trial_error(trial)

    def on_trial_remove(self, trial: FrozenTrial) -> None:
        self._live.pop(trial.trial_id, None)
        self._base.on_trial_remove(trial)

    def choose_trial_to_run(self, candidates: list[FrozenTrial]) -> FrozenTrial | None:
        return self._base.choose_trial_to_run(candidates)

    def get_state(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_base"}
        state["_base_state"] = self._base.get_state()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self._base.set_state(state.pop("_base_state"))
        self.__dict__.update(state)

    def debug_string(self) -> str:
        return f"{self._base.debug_string()} (with ResourceChangingScheduler)"
