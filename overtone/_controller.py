"""The controller: the one event loop of an experiment.

It asks the searcher for configs, asks the executor to start and stop trials, routes each
result to the stoppers, scheduler, searcher and callbacks, records results on disk, and
is the only writer of the experiment state file.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import deque
from typing import Any

import cloudpickle
import numpy as np

from overtone import __version__
from overtone._dicts import lookup
from overtone._errors import TuneError
from overtone._experiment import (
    Deleter,
    ExperimentSpec,
    TrialsView,
    check_fits,
    checkpoint_metrics,
    compact_result,
    guarded_callbacks,
    iteration_of,
    leaf_paths,
    log_files,
    merge_suggestion,
    require_metric,
    safe_dirname,
)
from overtone._restore import SEARCH_STATE_FILE
from overtone._study_change import config_fits, space_key
from overtone._trial import Resources, TrialStatus
from overtone._trial_state import Trial
from overtone.executors._base import DoneEvent, ResultEvent
from overtone.runtime._runner import remove_spare_dirs
from overtone.runtime._session import TrialInfo
from overtone.schedulers import Decision, FIFOScheduler, TrialRestart
from overtone.search import Searcher
from overtone.search._variants import format_vars, generate_variants, unresolved_paths
from overtone.storage._files import (
    FORMAT_VERSION,
    STATE_FILE,
    TrialRecorder,
    rewind_journal,
    write_atomic,
    write_json_atomic,
)

_STATE_INTERVAL_S = 1.0
_REPORT_INTERVAL_S = 0.5


class Controller:
    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec
        self.trials: dict[str, Trial] = {}
        self._queue: deque[Trial] = deque()  # pending/paused trials waiting to (re)start
        self._running: set[str] = set()
        self._prefix = os.urandom(3).hex()[:5]
        self._count = 0
        self._search_done = False
        self._stop_all = False
        self._interrupted = False
        self._dirty = True
        self._last_state = 0.0
        self._last_report = 0.0
        self._iteration = 0
        self._start = time.time()
        self._fifo = type(spec.scheduler) is FIFOScheduler
        self._sync = not self._fifo or spec.stopper is not None
        self._check_metric = not self._fifo and spec.scheduler.metric is not None
        self._check_searcher_metric = (
            not spec.searcher.controls_trial_count and spec.searcher.metric is not None
        )
        self._view = TrialsView(self.trials)
        self._stream = spec.stream if spec.stream is not None else sys.stdout
        self._rng = np.random.default_rng(None if spec.seed is None else [spec.seed, 1])
        self._search_state_error: str | None = None
        self._callbacks = guarded_callbacks(spec)
        # The worker makes each trial's folder and files (TrialInfo.files); the driver makes
        # the folder itself only for callbacks that may write there at on_trial_start.
        self._mkdir_at_launch = self._callbacks._needs_trial_dir_at_start
        self._spare_dirs = spec.executor.prepares_ahead and not self._mkdir_at_launch
        self._journal_files = (
            ("result.json", "progress.csv") if spec.default_loggers else ("result.json",)
        )
        self._deleter = Deleter()
        if spec.restored is not None:
            self._continue(spec.restored)

    def _continue(self, restored: Any) -> None:
        spec = self.spec
        self._prefix, self._count = restored.prefix, restored.count
        state = restored.search_state
        if state is not None and "error" in state:
            raise TuneError(
                f"this experiment cannot be resumed: its searcher could not save its state "
                f"({state['error']}); its finished trials are kept in {spec.experiment_path}"
            )
        # A param space other than the recorded one: the study changes (see _study_change).
        changed = (
            state is not None
            and "space_key" in state
            and state["space_key"] != space_key(spec.param_space)
        )
        for trial in restored.trials:
            self.trials[trial.trial_id] = trial
            if changed and not config_fits(trial.config, spec.param_space):
                trial.out_of_space = True
            if not trial.status.is_finished() and not trial.out_of_space:
                self._queue.append(trial)
        if state is not None:
            spec.scheduler.set_state(state["scheduler"])
            if changed:  # a fresh searcher over the new space, told what is known
                finished = [t.snapshot() for t in restored.trials if not t.out_of_space]
                if spec.metric is not None:  # without one there is nothing to learn
                    spec.searcher.add_evaluated_trials(finished, spec.metric)
            else:
                spec.searcher.set_state(state["searcher"])
        # The searcher and num_samples (which may have grown) decide whether more come.
        self._search_done = False

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> None:
        spec = self.spec
        os.makedirs(spec.experiment_path, exist_ok=True)
        remove_spare_dirs(spec.experiment_path)  # left by workers killed in an earlier run
        spec.executor.setup(f"{spec.trainable_name}-{self._prefix}", spec.trainable_blob)
        self._callbacks.setup(stop=spec.stopper, num_samples=spec.num_samples)
        self._save_state(force=True)
        try:
            while True:
                self._start_trials()
                if not self._running and not self._queue and self._search_done:
                    break
                if self._stop_all or self._over_budget():
                    self._stop_everything()
                    break
                if not self._running:
                    if self._queue and self._choose_queued() is None:
                        raise RuntimeError(
                            f"{type(spec.scheduler).__name__} holds {len(self._queue)} "
                            "paused or pending trials back while nothing runs: the "
                            "experiment would wait forever"
                        )
                    if self._queue:  # cannot start: resources never free up
                        raise RuntimeError(
                            f"trial {self._queue[0].trial_name} needs "
                            f"{self._queue[0].resources.to_dict()} but nothing is running "
                            "and the executor cannot start it"
                        )
                    time.sleep(0.005)  # the searcher asked us to wait, with nothing running
                    self._tick()
                    continue
                for event in spec.executor.wait(self._timeout()):
                    if isinstance(event, ResultEvent):
                        self._on_result(event)
                    elif isinstance(event, DoneEvent):
                        self._on_done(event.trial_id)
                    else:
                        self._on_error(event.trial_id, event.error)
                self._tick()
        except KeyboardInterrupt:
            self._interrupted = True
            print(
                "\nExperiment interrupted: every result so far is saved in "
                f"{spec.experiment_path}",
                file=self._stream,
            )
        finally:
            self._teardown()

    def _timeout(self) -> float:
        timeout = _REPORT_INTERVAL_S
        if self.spec.time_budget_s is not None:
            left = self.spec.time_budget_s - (time.time() - self._start)
            timeout = max(0.0, min(timeout, left))
        return timeout

    def _over_budget(self) -> bool:
        budget = self.spec.time_budget_s
        return budget is not None and time.time() - self._start >= budget

    def _tick(self) -> None:
        now = time.time()
        if self._dirty and now - self._last_state >= _STATE_INTERVAL_S:
            self._save_state()
        reporter = self.spec.reporter
        if reporter is not None and now - self._last_report >= _REPORT_INTERVAL_S:
            self._last_report = now
            snapshots = [t.snapshot() for t in self.trials.values()]
            if reporter.should_report(snapshots, False):
                reporter.report(snapshots, False, *self._sys_info())

    def _sys_info(self) -> list[str]:
        total = self.spec.executor.total_resources()
        cpu = sum(self.trials[t].resources.cpu for t in self._running)
        gpu = sum(self.trials[t].resources.gpu for t in self._running)
        return [
            f"Logical resource usage: {cpu:g}/{total.cpu:g} CPUs, {gpu:g}/{total.gpu:g} GPUs",
        ]

    # -- starting trials ----------------------------------------------------------------
    def _can_add(self) -> bool:
        limit = self.spec.max_concurrent_trials
        return limit is None or len(self._running) < limit

    def _start_trials(self) -> None:
        executor = self.spec.executor
        while self._can_add() and not self._stop_all:
            if self._queue:
                trial = self._choose_queued()
                if trial is not None:
                    if not executor.can_start(trial.resources):
                        return
                    self._queue.remove(trial)
                    self._launch(trial)
                    continue
                # The scheduler holds the queued trials back; new ones may still start.
            if self._search_done:
                return
            static = self.spec.resources
            if isinstance(static, Resources) and not executor.can_start(static):
                return
            trial = self._create_trial()
            if trial is None:
                return
            if executor.can_start(trial.resources):
                self._launch(trial)
            else:
                self._queue.append(trial)
                return

    def _choose_queued(self) -> Trial | None:
        if self._fifo:
            return self._queue[0]
        scheduler = self.spec.scheduler
        for snap in scheduler.trials_to_stop([t.snapshot() for t in self._queue]):
            trial = self.trials[snap.trial_id]
            if trial in self._queue:
                self._queue.remove(trial)
                self._finish(trial, TrialStatus.TERMINATED)
        if not self._queue:
            return None
        chosen = scheduler.choose_trial_to_run([t.snapshot() for t in self._queue])
        if chosen is None:
            return None
        trial = self.trials[chosen.trial_id]
        change = scheduler.pending_restart(chosen)
        if change is not None:  # e.g. synchronous PBT's exploit, decided while it waited
            self._queue.remove(trial)
            self._restart(trial, change)  # puts it back at the front of the queue
        return trial

    def _create_trial(self) -> Trial | None:
        spec = self.spec
        searcher = spec.searcher
        if not searcher.controls_trial_count and self._count >= spec.num_samples:
            self._search_done = True
            return None
        trial_id = f"{self._prefix}_{self._count:05d}"
        config = searcher.suggest(trial_id)
        if config is None:
            return None
        if isinstance(config, str) and config == Searcher.FINISHED:
            self._search_done = True
            return None
        index = self._count
        self._count += 1
        resolved = getattr(searcher, "last_resolved_vars", None)
        if callable(resolved):
            tag_vars = format_vars(resolved(trial_id))
        else:  # a searcher suggests only what it searches: the space gives the rest
            tag_vars = format_vars(leaf_paths(config))
            config = merge_suggestion(spec.param_space, config)
            if unresolved_paths(config):
                config = next(generate_variants(config, self._rng))[1]
        tag = f"{index}_{tag_vars}" if tag_vars else str(index)
        resources = spec.resources
        if not isinstance(resources, Resources):
            resources = Resources.coerce(resources(config))
            check_fits(resources, spec.executor.total_resources())
        trial = Trial(
            trial_id,
            f"{spec.trainable_name}_{trial_id}",
            "",
            spec.experiment_path,
            config,
            resources,
            tag,
            spec.trainable_name,
        )
        if spec.trial_name_creator is not None:
            trial.trial_name = str(spec.trial_name_creator(trial.snapshot()))
        if spec.trial_dirname_creator is not None:
            dirname = str(spec.trial_dirname_creator(trial.snapshot()))
        else:
            dirname = f"{spec.trainable_name}_{trial_id}_{tag}"
        trial.dirname = safe_dirname(dirname)
        trial.path = os.path.join(spec.experiment_path, trial.dirname)
        self.trials[trial_id] = trial
        if not self._fifo:
            spec.scheduler.on_trial_add(trial.snapshot())
        self._dirty = True
        return trial

    def _launch(self, trial: Trial) -> None:
        spec = self.spec
        trial.close()
        if trial.runs:  # a restart: continue from the latest checkpoint, or from scratch
            self._rewind(trial)
        files = self._journal_files
        if self._callbacks:
            files += tuple(self._callbacks._trial_files(trial.snapshot()))
        if self._mkdir_at_launch:
            os.makedirs(trial.path, exist_ok=True)
        trial.runs += 1
        info = TrialInfo(
            trial_id=trial.trial_id,
            trial_name=trial.trial_name,
            trial_dir=trial.path,
            experiment_name=spec.name,
            experiment_path=spec.experiment_path,
            config=trial.config,
            resources=trial.resources.to_dict(),
            restore_checkpoint=trial.latest_checkpoint(),
            start_iteration=trial.start_iteration,
            start_time_total=trial.start_time_total,
            checkpoint_frequency=spec.checkpoint_frequency,
            log_files=log_files(spec.log_to_file, trial.path),
            reuse=spec.reuse_actors,
            sync=self._sync,
            checkpoint_at_end=bool(spec.checkpoint_config.checkpoint_at_end),
            write_params=True,  # the state file holds the config too
            files=files,
            spare_dirs=self._spare_dirs,
        )
        spec.executor.start_trial(info, trial.resources)
        trial.status = TrialStatus.RUNNING
        trial.pending_decision = None
        self._running.add(trial.trial_id)
        self._dirty = True
        self._iteration += 1
        if self._callbacks:
            self._callbacks.on_trial_start(self._iteration, self._view, trial.snapshot())

    def _rewind(self, trial: Trial) -> None:
        iteration = trial.checkpoint_iteration()
        last = rewind_journal(trial.path, iteration)
        trial.start_iteration = iteration
        trial.start_time_total = float(last.get("time_total_s", 0.0)) if last else 0.0
        trial.last_result = {**last, "config": trial.config} if last else {}

    # -- events -------------------------------------------------------------------------
    def _on_result(self, event: ResultEvent) -> None:
        spec = self.spec
        trial = self.trials[event.trial_id]
        result = event.result
        result["config"] = trial.config
        trial.last_result = result
        decision = Decision.STOP if result.get("done") else Decision.CONTINUE
        stopper = spec.stopper
        if stopper is not None:
            if stopper(trial.trial_id, result):
                decision = Decision.STOP
            if stopper.stop_all():
                decision = Decision.STOP
                self._stop_all = True
        # One snapshot serves the scheduler, the callbacks and the printed line: none of the
        # fields it holds change while this result is handled.
        snap = (
            trial.snapshot() if (not self._fifo or self._callbacks or spec.verbose >= 3) else None
        )
        if snap is not None and not self._fifo:
            if self._check_metric and result["iterations_since_restore"] == 1:
                require_metric(result, spec.scheduler.metric, spec.scheduler)
            chosen = spec.scheduler.on_trial_result(snap, result)
            if isinstance(chosen, TrialRestart):
                if decision == Decision.CONTINUE:  # stop it now (a class trainable saves)
                    trial.pending_restart = chosen
                    decision = Decision.PAUSE
            elif chosen == Decision.STOP or (
                chosen == Decision.PAUSE and decision == Decision.CONTINUE
            ):
                decision = Decision(chosen)
        if decision != Decision.CONTINUE:
            trial.pending_decision = decision.value
        if self._sync:
            spec.executor.send_decision(trial.trial_id, decision.value)  # it goes on now
        if trial.recorder is None:  # opened at the first result: the worker made the files
            # The first run starts the journal afresh; a later one continues the rewound one.
            trial.recorder = TrialRecorder(
                trial.path, fresh=trial.runs == 1, csv=spec.default_loggers
            )
        trial.recorder.write(result)
        if spec.remote is not None:
            spec.remote.notify(trial.path)
        if event.checkpoint_dirname:
            self._add_checkpoint(trial, event.checkpoint_dirname, checkpoint_metrics(result))
        trial.start_iteration = result["training_iteration"]
        trial.start_time_total = result["time_total_s"]
        if self._check_searcher_metric and result["iterations_since_restore"] == 1:
            require_metric(result, spec.searcher.metric, spec.searcher)
        spec.searcher.on_trial_result(trial.trial_id, result)
        self._iteration += 1
        if snap is not None and self._callbacks:
            self._callbacks.on_trial_result(self._iteration, self._view, snap, result)
            if event.checkpoint_dirname:
                self._callbacks.on_checkpoint(
                    self._iteration, self._view, snap, trial.latest_checkpoint()
                )
        if spec.verbose >= 3:
            from overtone.progress import format_trial_result_line

            assert snap is not None
            self._print(format_trial_result_line(snap, result, detailed=False))
        self._dirty = True

    def _restart(self, trial: Trial, restart: TrialRestart) -> None:
        """Apply a scheduler's restart: new config, resources or starting checkpoint."""
        trial.pending_restart = None
        trial.close()
        if restart.config is not None:
            trial.config = restart.config
        if restart.resources is not None:
            trial.resources = Resources.coerce(restart.resources)
        if restart.checkpoint is not None and not os.path.isdir(restart.checkpoint):
            print(
                f"Warning: the checkpoint {restart.checkpoint} to restart trial "
                f"{trial.trial_name} from is gone; it continues from its own latest one",
                file=sys.stderr,
            )
        elif restart.checkpoint is not None:
            source = os.path.abspath(restart.checkpoint)
            name = os.path.basename(source.rstrip(os.sep))
            if os.path.dirname(source) != trial.path:  # another trial's: take a copy
                for c in trial.checkpoints:
                    shutil.rmtree(os.path.join(trial.path, c["dirname"]), ignore_errors=True)
                target = os.path.join(trial.path, name)
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target + ".tmp")
                os.replace(target + ".tmp", target)
                trial.checkpoints = []
            trial.add_checkpoint(name, {"training_iteration": iteration_of(name)})
        trial.status = TrialStatus.PENDING
        self._queue.appendleft(trial)
        self._dirty = True

    def _register_final_checkpoint(self, trial: Trial) -> None:
        dirname = f"checkpoint_{trial.start_iteration:06d}"
        known = {c["dirname"] for c in trial.checkpoints}
        if dirname in known or not os.path.isdir(os.path.join(trial.path, dirname)):
            return
        self._add_checkpoint(trial, dirname, checkpoint_metrics(trial.last_result))

    def _add_checkpoint(self, trial: Trial, dirname: str, metrics: dict[str, Any]) -> None:
        trial.add_checkpoint(dirname, metrics)
        if self.spec.checkpoint_config.num_to_keep is not None:
            self._prune_checkpoints(trial)

    def _prune_checkpoints(self, trial: Trial) -> None:
        """Keep the best ``num_to_keep`` checkpoints by score, and always the latest."""
        config = self.spec.checkpoint_config
        keep = config.num_to_keep
        assert keep is not None
        if len(trial.checkpoints) <= keep:
            return
        attr = config.checkpoint_score_attribute
        latest = trial.checkpoints[-1]
        if attr is None:  # no score: the most recent ones are the best
            ranked = list(reversed(trial.checkpoints))
        else:
            sign = 1.0 if config.checkpoint_score_order == "max" else -1.0

            def score(c: dict[str, Any]) -> float:
                value = lookup(c["metrics"], attr)
                if not isinstance(value, (int, float)) or value != value:
                    return float("-inf")
                return sign * float(value)

            ranked = sorted(trial.checkpoints, key=score, reverse=True)
        kept = {id(c) for c in ranked[:keep]} | {id(latest)}
        for c in trial.checkpoints:
            if id(c) not in kept:
                self._deleter.delete(os.path.join(trial.path, c["dirname"]))
        trial.checkpoints = [c for c in trial.checkpoints if id(c) in kept]

    def _on_done(self, trial_id: str) -> None:
        trial = self.trials[trial_id]
        self._running.discard(trial_id)
        pausing = trial.pending_decision == Decision.PAUSE.value
        if trial.last_result and (self.spec.checkpoint_config.checkpoint_at_end or pausing):
            self._register_final_checkpoint(trial)
        if trial.pending_restart is not None:
            self._restart(trial, trial.pending_restart)
            return
        if trial.pending_decision == Decision.PAUSE.value:
            trial.close()
            trial.status = TrialStatus.PAUSED
            self._queue.append(trial)
            self._dirty = True
            return
        self._finish(trial, TrialStatus.TERMINATED)

    def _on_error(self, trial_id: str, error: str) -> None:
        spec = self.spec
        trial = self.trials[trial_id]
        self._running.discard(trial_id)
        trial.num_failures += 1
        trial.error_file = "error.txt"
        os.makedirs(trial.path, exist_ok=True)
        with open(os.path.join(trial.path, "error.txt"), "a", encoding="utf-8") as f:
            f.write(
                f"Failure # {trial.num_failures} "
                f"(occurred at {time.strftime('%Y-%m-%d_%H-%M-%S')})\n{error}\n"
            )
        trial.close()
        max_failures = spec.failure_config.max_failures
        if max_failures < 0 or trial.num_failures <= max_failures:
            trial.status = TrialStatus.PENDING
            self._queue.appendleft(trial)
            self._dirty = True
            return
        self._finish(trial, TrialStatus.ERROR)
        if spec.failure_config.fail_fast:
            self._stop_all = True

    def _finish(self, trial: Trial, status: TrialStatus) -> None:
        spec = self.spec
        trial.status = status
        trial.close()
        if trial.last_result:
            trial.last_result = compact_result(trial.last_result, trial)
            trial.last_result["done"] = True
        self._dirty = True
        self._iteration += 1
        error = status == TrialStatus.ERROR
        spec.searcher.on_trial_complete(trial.trial_id, trial.last_result or None, error=error)
        snap = trial.snapshot()
        if not self._fifo:
            if error:
                spec.scheduler.on_trial_error(snap)
            else:
                spec.scheduler.on_trial_complete(snap, trial.last_result or None)
        if self._callbacks:
            hook = self._callbacks.on_trial_error if error else self._callbacks.on_trial_complete
            hook(self._iteration, self._view, snap)
        if spec.verbose >= 2:
            from overtone.progress import format_trial_end_line

            self._print(format_trial_end_line(snap, time.time() - self._start))

    def _print(self, line: str) -> None:
        reporter = self.spec.reporter
        if reporter is not None and hasattr(reporter, "print_line"):
            reporter.print_line(line)  # keeps a live table intact
        else:
            print(line, file=self._stream)

    def _stop_everything(self) -> None:
        for trial_id in list(self._running):
            self.spec.executor.kill_trial(trial_id)
            self._running.discard(trial_id)
            self._finish(self.trials[trial_id], TrialStatus.TERMINATED)

    # -- the end ------------------------------------------------------------------------
    def _teardown(self) -> None:
        spec = self.spec
        try:
            spec.executor.shutdown()
        finally:
            self._deleter.close()  # every pruned checkpoint is gone before the last save
            for trial in self.trials.values():
                trial.close()
            self._save_state(force=True)
            if spec.remote is not None:
                errors = spec.remote.close()
                if errors:
                    print(
                        f"Warning: not all of the experiment reached {spec.remote.uri}; the "
                        f"complete copy is in {spec.experiment_path}:\n  " + "\n  ".join(errors),
                        file=sys.stderr,
                    )
        self._callbacks.on_experiment_end(self._view)
        if spec.reporter is not None:
            snapshots = [t.snapshot() for t in self.trials.values()]
            spec.reporter.report(snapshots, True, *self._sys_info())
        if spec.verbose >= 2:  # at verbose 1 the reporter prints only this summary itself
            from overtone.progress import final_summary

            print(
                final_summary(
                    [t.snapshot() for t in self.trials.values()],
                    spec.metric,
                    spec.mode,
                    experiment_path=spec.experiment_path,
                ),
                file=self._stream,
            )

    def _save_search_state(self) -> None:
        """The searcher's and scheduler's state, for restore (before the state file, so
        that a state file never names trials the searcher does not know it suggested)."""
        spec = self.spec
        try:
            data = cloudpickle.dumps(
                {
                    "searcher": spec.searcher.get_state(),
                    "scheduler": spec.scheduler.get_state(),
                    "search_done": self._search_done,
                    "space_key": space_key(spec.param_space),
                }
            )
        except Exception as exc:  # noqa: BLE001 - any failure means the same: not restorable
            if self._search_state_error is None:
                self._search_state_error = f"{type(spec.searcher).__name__}: {exc}"
                print(
                    f"Warning: the search state cannot be saved, so this experiment will "
                    f"not be resumable: {self._search_state_error}",
                    file=sys.stderr,
                )
            data = cloudpickle.dumps({"error": self._search_state_error})
        write_atomic(os.path.join(spec.experiment_path, SEARCH_STATE_FILE), data)

    def _save_state(self, force: bool = False) -> None:
        spec = self.spec
        state = {
            "format_version": FORMAT_VERSION,
            "overtone_version": __version__,
            "name": spec.name,
            "start_time": self._start,
            "metric": spec.metric,
            "mode": spec.mode,
            "interrupted": self._interrupted,
            "trials": [t.to_state() for t in self.trials.values()],
        }
        self._save_search_state()
        write_json_atomic(os.path.join(spec.experiment_path, STATE_FILE), state)
        if spec.remote is not None:
            spec.remote.notify()
        self._last_state = time.time()
        self._dirty = False
