"""An in-process stand-in for the controller: drives a scheduler with synthetic trials.

It follows the controller's rules (``overtone/_controller.py``): every result gets a
decision; ``done`` forces STOP; PAUSE queues the trial as PAUSED after a save (as a class
trainable does); a :class:`TrialRestart` queues it first as PENDING with the new config,
resources or copied checkpoint; queued trials start through ``choose_trial_to_run``, and when
it answers None a new trial is created if any is left. Time is the iteration count: no clocks.
"""

from __future__ import annotations

import json
import os
import pickle
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.schedulers import Decision, TrialRestart, TrialScheduler

StepFn = Callable[[dict[str, Any], Any, int], tuple[Any, dict[str, Any]]]


@dataclass
class SimTrial:
    trial_id: str
    config: dict[str, Any]
    path: str
    tag: str
    initial_state: Any
    status: TrialStatus = TrialStatus.PENDING
    iteration: int = 0
    since_restore: int = 0
    state: Any = None
    resources: Resources = field(default_factory=Resources)
    checkpoints: dict[int, Any] = field(default_factory=dict)
    last_result: dict[str, Any] = field(default_factory=dict)
    runs: int = 0
    pending_restart: TrialRestart | None = None
    history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (it, config)

    def snapshot(self) -> FrozenTrial:
        return FrozenTrial(
            trial_id=self.trial_id,
            trial_name=f"sim_{self.trial_id}",
            config=self.config,
            status=self.status,
            last_result=self.last_result,
            path=self.path,
            resources=self.resources,
            experiment_tag=self.tag,
            trainable_name="sim",
        )


class Stuck(RuntimeError):
    pass


class Simulator:
    """Runs ``configs`` as trials of ``step_fn`` under ``scheduler``.

    Args:
        step_fn: ``(config, state, iteration) -> (new state, metrics)``.
        max_iter: a trial reports ``done`` at this iteration.
        concurrency: how many trials run at once; each tick steps each once, in start order.
        checkpoint_every: report a checkpoint every this many iterations (0: never).
        make_dirs: create the checkpoint folders on disk (PBT checks that they exist).
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
        make_dirs: bool = False,
        metric: str | None = "score",
        mode: str | None = "max",
        seed: int | None = 0,
        initial_state: Any = 0.0,
        resources: Resources | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.configs = configs
        self.step_fn = step_fn
        self.root = root
        self.max_iter = max_iter
        self.concurrency = concurrency
        self.checkpoint_every = checkpoint_every
        self.make_dirs = make_dirs
        self.metric, self.mode, self.seed = metric, mode, seed
        self.initial_state = initial_state
        self.resources = resources or Resources()
        self.trials: dict[str, SimTrial] = {}
        self.queue: deque[SimTrial] = deque()
        self.running: list[SimTrial] = []
        self.decisions: list[tuple[Any, ...]] = []
        self.iterations = 0  # results reported in all, the compute spent
        self.saved: dict[str, Any] = {}  # checkpoint path -> state
        scheduler.set_search_properties(metric, mode, seed=seed, experiment_path=root)

    # -- trials -------------------------------------------------------------------------
    def _create(self) -> SimTrial | None:
        index = len(self.trials)
        if index >= len(self.configs):
            return None
        trial_id = f"t{index:05d}"
        trial = SimTrial(
            trial_id,
            dict(self.configs[index]),
            os.path.join(self.root, f"sim_{trial_id}"),
            str(index),
            self.initial_state,
            resources=self.resources,
        )
        trial.state = trial.initial_state
        self.trials[trial_id] = trial
        self.scheduler.on_trial_add(trial.snapshot())
        return trial

    def _launch(self, trial: SimTrial) -> None:
        if trial.runs:
            if trial.checkpoints:
                it = max(trial.checkpoints)
                trial.iteration, trial.state = it, trial.checkpoints[it]
            else:
                trial.iteration, trial.state = 0, trial.initial_state
        trial.runs += 1
        trial.since_restore = 0
        trial.status = TrialStatus.RUNNING
        trial.history.append((trial.iteration, trial.config))
        self.running.append(trial)

    def _save(self, trial: SimTrial) -> str:
        name = f"checkpoint_{trial.iteration:06d}"
        trial.checkpoints[trial.iteration] = trial.state
        path = os.path.join(trial.path, name)
        self.saved[path] = trial.state
        if self.make_dirs:
            os.makedirs(path, exist_ok=True)
        return name

    def _choose(self) -> SimTrial | None:
        chosen = self.scheduler.choose_trial_to_run([t.snapshot() for t in self.queue])
        if chosen is None:
            return None
        assert isinstance(chosen, FrozenTrial), chosen
        trial = self.trials[chosen.trial_id]
        assert trial in self.queue, f"{chosen.trial_id} is not queued"
        self.queue.remove(trial)
        return trial

    def _fill(self) -> None:
        while len(self.running) < self.concurrency:
            if self.queue:
                trial = self._choose()
                if trial is not None:
                    self._launch(trial)
                    continue
            trial = self._create()
            if trial is None:
                break
            self._launch(trial)
        if not self.running and self.queue:
            trial = self._choose()
            if trial is None:
                raise Stuck(f"{len(self.queue)} queued trials held back while nothing runs")
            self._launch(trial)

    # -- one result ---------------------------------------------------------------------
    def _step(self, trial: SimTrial) -> None:
        trial.iteration += 1
        trial.since_restore += 1
        self.iterations += 1
        trial.state, metrics = self.step_fn(trial.config, trial.state, trial.iteration)
        result = dict(metrics)
        result.update(
            training_iteration=trial.iteration,
            time_total_s=float(trial.iteration),
            iterations_since_restore=trial.since_restore,
            trial_id=trial.trial_id,
            done=trial.iteration >= self.max_iter,
            config=trial.config,
        )
        if self.checkpoint_every and trial.iteration % self.checkpoint_every == 0:
            result["checkpoint_dir_name"] = self._save(trial)
        trial.last_result = result
        chosen = self.scheduler.on_trial_result(trial.snapshot(), result)
        assert isinstance(chosen, (Decision, TrialRestart)), f"not a decision: {chosen!r}"
        decision = Decision.STOP if result["done"] else Decision.CONTINUE
        if isinstance(chosen, TrialRestart):
            self.decisions.append((trial.trial_id, trial.iteration, *self._label(chosen)))
            if decision == Decision.CONTINUE:
                trial.pending_restart = chosen
                decision = Decision.PAUSE
        else:
            self.decisions.append((trial.trial_id, trial.iteration, Decision(chosen).value))
            if chosen == Decision.STOP or (
                chosen == Decision.PAUSE and decision == Decision.CONTINUE
            ):
                decision = Decision(chosen)
        if decision == Decision.CONTINUE:
            return
        self.running.remove(trial)
        if decision == Decision.STOP:
            trial.status = TrialStatus.TERMINATED
            self.scheduler.on_trial_complete(trial.snapshot(), result)
            return
        self._save(trial)  # a pause saves, as a class trainable does
        if trial.pending_restart is not None:
            self._restart(trial, trial.pending_restart)
        else:
            trial.status = TrialStatus.PAUSED
            self.queue.append(trial)

    def _label(self, restart: TrialRestart) -> tuple[Any, ...]:
        source = None
        if restart.checkpoint is not None:
            source = os.path.relpath(restart.checkpoint, self.root)
        config = None if restart.config is None else json.dumps(restart.config, sort_keys=True)
        resources = None
        if restart.resources is not None:
            resources = Resources.coerce(restart.resources).to_dict()
        return ("RESTART", config, source, json.dumps(resources, sort_keys=True))

    def _restart(self, trial: SimTrial, restart: TrialRestart) -> None:
        trial.pending_restart = None
        if restart.config is not None:
            trial.config = restart.config
        if restart.resources is not None:
            trial.resources = Resources.coerce(restart.resources)
        if restart.checkpoint is not None:
            path = os.path.abspath(restart.checkpoint)
            assert path in self.saved, f"no such checkpoint: {path}"
            name = os.path.basename(path)
            it = int(name.rpartition("_")[2])
            trial.checkpoints = {it: self.saved[path]}
            copy = os.path.join(trial.path, name)  # the controller copies it over
            self.saved[copy] = self.saved[path]
            if self.make_dirs:
                os.makedirs(copy, exist_ok=True)
        trial.status = TrialStatus.PENDING
        self.queue.appendleft(trial)

    # -- the loop -----------------------------------------------------------------------
    def run(
        self,
        *,
        swap_at: int | None = None,
        factory: Callable[[], TrialScheduler] | None = None,
        max_results: int = 1_000_000,
    ) -> Simulator:
        """Run every trial to its end. With ``swap_at``, after that many results the
        scheduler's state is pickled into a fresh one from ``factory``, as on restore."""
        while True:
            self._fill()
            if not self.running:
                self.scheduler.get_state()  # the controller's last save of the search state
                return self
            for trial in list(self.running):
                if trial in self.running:
                    self._step(trial)
                if swap_at is not None and self.iterations == swap_at:
                    assert factory is not None
                    self.swap(factory)
                if self.iterations >= max_results:
                    return self

    def swap(self, factory: Callable[[], TrialScheduler]) -> None:
        state = pickle.dumps(self.scheduler.get_state())
        fresh = factory()
        fresh.set_search_properties(
            self.metric, self.mode, seed=self.seed, experiment_path=self.root
        )
        fresh.set_state(pickle.loads(state))
        self.scheduler = fresh

    # -- reading the outcome ------------------------------------------------------------
    def final(self, key: str) -> dict[str, Any]:
        return {t.trial_id: t.last_result.get(key) for t in self.trials.values()}

    def reached(self, iteration: int) -> set[str]:
        """Trials that reported a result at exactly ``iteration``."""
        return {t for t, it, *_ in self.decisions if it == iteration}
