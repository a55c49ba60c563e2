"""Drives a scheduler through the real controller, with trials scripted in this process.

Each trial is a script for :class:`~overtone.executors._scripted.ScriptedExecutor`: it calls
``step_fn`` once per result and needs no worker process, so the controller's own rules
(``overtone/_controller.py``: every result gets a decision; ``done`` forces STOP; PAUSE queues
the trial as PAUSED after a save; a :class:`TrialRestart` queues it first as PENDING with the
new config, resources or copied checkpoint; queued trials start through
``choose_trial_to_run``...) are the ones exercised, not a copy of them. Time is the iteration
count: no clocks. The executor steps the running trials round-robin, in start order.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from overtone._controller import Controller
from overtone._experiment import ExperimentSpec
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone._trial_factory import TrialFactory
from overtone._trial_state import Trial
from overtone.executors._scripted import ScriptedExecutor, Step
from overtone.runtime._session import TrialInfo
from overtone.schedulers import Decision, TrialRestart, TrialScheduler
from overtone.search import Searcher

StepFn = Callable[[dict[str, Any], Any, int], tuple[Any, dict[str, Any]]]


@dataclass
class SimTrial:
    """A trial as the controller keeps it, with what its script saw."""

    trial: Trial
    iteration: int = 0  # the last iteration it stepped
    state: Any = None
    history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (start, config)

    @property
    def trial_id(self) -> str:
        return self.trial.trial_id

    @property
    def config(self) -> dict[str, Any]:
        return self.trial.config

    @property
    def status(self) -> TrialStatus:
        return self.trial.status

    @property
    def last_result(self) -> dict[str, Any]:
        return self.trial.last_result

    @property
    def resources(self) -> Resources:
        return self.trial.resources

    @property
    def path(self) -> str:
        return self.trial.path


@dataclass
class _Record:
    """What a trial's script saw: its last iteration and state, and each start."""

    iteration: int = 0
    state: Any = None
    history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class _Configs(Searcher):
    """Suggests the given configs in order; each trial's tag is its number alone."""

    def __init__(self, configs: list[dict[str, Any]]) -> None:
        super().__init__()
        self._configs = configs
        self._next = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._next >= len(self._configs):
            return Searcher.FINISHED
        self._next += 1
        return dict(self._configs[self._next - 1])

    def last_resolved_vars(self, trial_id: str) -> dict[Any, Any]:
        return {}


class _SimFactory(TrialFactory):
    def trial_id(self, index: int) -> str:
        return f"t{index:05d}"


class _Recording(TrialScheduler):
    """Stands in for the scheduler: passes every call on and records its decisions."""

    def __init__(self, sim: Simulator, inner: TrialScheduler) -> None:
        self.sim = sim
        self.inner = inner

    @property
    def metric(self) -> str | None:  # type: ignore[override]
        return self.inner.metric

    @property
    def mode(self) -> str | None:  # type: ignore[override]
        return self.inner.mode

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return self.inner.set_search_properties(metric, mode, **spec)

    def on_trial_add(self, trial: FrozenTrial) -> None:
        self.inner.on_trial_add(trial)

    def on_trial_result(
        self, trial: FrozenTrial, result: dict[str, Any]
    ) -> Decision | TrialRestart:
        chosen = self.inner.on_trial_result(trial, result)
        assert isinstance(chosen, (Decision, TrialRestart)), f"not a decision: {chosen!r}"
        iteration = result["training_iteration"]
        if isinstance(chosen, TrialRestart):
            self.sim.decisions.append((trial.trial_id, iteration, *self.sim._label(chosen)))
        else:
            self.sim.decisions.append((trial.trial_id, iteration, Decision(chosen).value))
        self.sim.iterations += 1
        if self.sim.iterations == self.sim._swap_at:
            assert self.sim._factory is not None
            self.sim.swap(self.sim._factory)
        return chosen

    def on_trial_complete(self, trial: FrozenTrial, result: dict[str, Any] | None) -> None:
        self.inner.on_trial_complete(trial, result)

    def on_trial_error(self, trial: FrozenTrial) -> None:
        self.inner.on_trial_error(trial)

    def on_trial_remove(self, trial: FrozenTrial) -> None:
        self.inner.on_trial_remove(trial)

    def choose_trial_to_run(self, candidates: list[FrozenTrial]) -> FrozenTrial | None:
        chosen = self.inner.choose_trial_to_run(candidates)
        assert chosen is None or isinstance(chosen, FrozenTrial), chosen
        return chosen

    def trials_to_stop(self, queued: list[FrozenTrial]) -> list[FrozenTrial]:
        return self.inner.trials_to_stop(queued)

    def pending_restart(self, trial: FrozenTrial) -> TrialRestart | None:
        return self.inner.pending_restart(trial)

    def get_state(self) -> dict[str, Any]:
        return self.inner.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.inner.set_state(state)

    def debug_string(self) -> str:
        return self.inner.debug_string()


class Simulator:
    """Runs ``configs`` as trials of ``step_fn`` under ``scheduler``, through the controller.

    Args:
        step_fn: ``(config, state, iteration) -> (new state, metrics)``.
        max_iter: a trial reports ``done`` at this iteration.
        concurrency: how many trials run at once (``max_concurrent_trials``).
        checkpoint_every: report a checkpoint every this many iterations (0: never).
    """

    def __init__(
        self,
        scheduler: TrialScheduler,
        *,
        configs: list[dict[str, Any]],
        step_fn: StepFn,
        root: str,
        max_iter: int = 100,
        concurrency: int = 4,
        checkpoint_every: int = 0,
        metric: str | None = "score",
        mode: str | None = "max",
        seed: int | None = 0,
        initial_state: Any = 0.0,
        resources: Resources | None = None,
    ) -> None:
        self._recording = _Recording(self, scheduler)
        self.configs = configs
        self.step_fn = step_fn
        self.root = root
        self.max_iter = max_iter
        self.concurrency = concurrency
        self.checkpoint_every = checkpoint_every
        self.metric, self.mode, self.seed = metric, mode, seed
        self.initial_state = initial_state
        self.resources = resources or Resources()
        self.trials: dict[str, SimTrial] = {}  # once run
        self._records: dict[str, _Record] = {}
        self.decisions: list[tuple[Any, ...]] = []
        self.iterations = 0  # results reported in all, the compute spent
        self._swap_at: int | None = None
        self._factory: Callable[[], TrialScheduler] | None = None
        scheduler.set_search_properties(metric, mode, seed=seed, experiment_path=root)

    @property
    def scheduler(self) -> TrialScheduler:
        return self._recording.inner

    def _script(self, info: TrialInfo, state: Any) -> Iterator[Step]:
        record = self._records.setdefault(info.trial_id, _Record())
        if info.restore_checkpoint is None:
            state = self.initial_state
        iteration = info.start_iteration
        record.history.append((iteration, info.config))
        record.iteration, record.state = iteration, state
        while True:
            iteration += 1
            state, metrics = self.step_fn(info.config, state, iteration)
            record.iteration, record.state = iteration, state
            metrics = {**metrics, "done": iteration >= self.max_iter}
            every = self.checkpoint_every
            yield Step(metrics, state=state, checkpoint=bool(every and iteration % every == 0))

    def _label(self, restart: TrialRestart) -> tuple[Any, ...]:
        source = None
        if restart.checkpoint is not None:
            source = os.path.relpath(restart.checkpoint, self.root)
        config = None if restart.config is None else json.dumps(restart.config, sort_keys=True)
        resources = None
        if restart.resources is not None:
            resources = Resources.coerce(restart.resources).to_dict()
        return ("RESTART", config, source, json.dumps(resources, sort_keys=True))

    # -- the run ------------------------------------------------------------------------
    def run(
        self,
        *,
        swap_at: int | None = None,
        factory: Callable[[], TrialScheduler] | None = None,
    ) -> Simulator:
        """Run every trial to its end. With ``swap_at``, after that many results the
        scheduler's state is pickled into a fresh one from ``factory``, as on restore."""
        self._swap_at, self._factory = swap_at, factory
        huge = float(10**6)
        spec = ExperimentSpec(
            trainable_blob=b"",
            trainable_name="sim",
            name="sim",
            experiment_path=self.root,
            param_space={},
            searcher=_Configs(self.configs),
            scheduler=self._recording,
            stopper=None,
            executor=ScriptedExecutor(self._script, Resources(cpu=huge, gpu=huge)),
            resources=self.resources,
            metric=self.metric,
            mode=self.mode,
            num_samples=len(self.configs),
            max_concurrent_trials=self.concurrency,
            verbose=0,
            seed=self.seed,
            default_loggers=False,
            trial_dirname_creator=lambda trial: f"sim_{trial.trial_id}",
        )
        controller = Controller(spec)
        controller._factory = _SimFactory(spec, "t")
        controller.run()
        for trial_id, trial in controller.trials.items():
            record = self._records.get(trial_id) or _Record(state=self.initial_state)
            self.trials[trial_id] = SimTrial(trial, record.iteration, record.state, record.history)
        return self

    def swap(self, factory: Callable[[], TrialScheduler]) -> None:
        state = pickle.dumps(self.scheduler.get_state())
        fresh = factory()
        fresh.set_search_properties(
            self.metric, self.mode, seed=self.seed, experiment_path=self.root
        )
        fresh.set_state(pickle.loads(state))
        self._recording.inner = fresh

    # -- reading the outcome ------------------------------------------------------------
    def final(self, key: str) -> dict[str, Any]:
        return {t.trial_id: t.last_result.get(key) for t in self.trials.values()}

    def reached(self, iteration: int) -> set[str]:
        """Trials that reported a result at exactly ``iteration``."""
        return {t for t, it, *_ in self.decisions if it == iteration}
