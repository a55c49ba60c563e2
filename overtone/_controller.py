"""The controller: the one event loop of an experiment.

It asks the :class:`TrialFactory` for trials (the searcher's configs), asks the executor to
start and stop them, and routes each event: a result to the stoppers, scheduler, searcher and
callbacks (the progress output among them) and to the trial's journal on disk; a checkpoint to
the :class:`CheckpointBook`; the state, now and then, to the :class:`StateWriter`, of which it
is the only user.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque

from overtone._checkpoints import CheckpointBook, checkpoint_iteration, latest_checkpoint
from overtone._decisions import apply_restart, decide
from overtone._experiment import (
    ExperimentSpec,
    TrialsView,
    guarded_callbacks,
    require_metric,
    resource_usage,
)
from overtone._queue import choose_queued, startable_held_back
from overtone._state import StateWriter
from overtone._study_change import continue_study
from overtone._teardown import on_sigterm, teardown
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone._trial_factory import TrialFactory, trial_info
from overtone._trial_state import Trial
from overtone._trial_table import TrialTable
from overtone.executors._base import DoneEvent, ErrorEvent, ResultEvent
from overtone.runtime._runner import remove_spare_dirs
from overtone.runtime._session import ConfigNotSendableError
from overtone.schedulers import Decision, FIFOScheduler, TrialRestart
from overtone.storage._files import result_problem
from overtone.storage._journal import TrialRecorder, rewind_journal
from overtone.storage._layout import PROGRESS_FILE, RESULT_FILE

_STATE_INTERVAL_S = 1.0
#: Seconds between saves, at least, per second a save takes: a searcher whose state grows with
#: the trials (Optuna's study) is pickled less often, keeping saves near 5% of the driver's time.
_STATE_COST_FACTOR = 20.0
_REPORT_INTERVAL_S = 0.5


class Controller:
    """Runs one experiment (an ``ExperimentSpec``) to its end: ``Controller(spec).run()``."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec
        # Every trial by id; a finished one is spilled to disk (see TrialTable).
        self.trials = TrialTable(spec.experiment_path)
        self._queue: deque[Trial] = deque()  # pending/paused trials waiting to (re)start
        self._running: set[str] = set()
        self._unsent: list[ErrorEvent] = []  # trials whose config could not be sent
        self._search_done = False
        self._stop_all = False
        self._interrupted = False
        self._dirty = True
        # Changed since the last save: live trials, and where finished ones' entries lie.
        self._changed: dict[str, Trial | int] = {}
        self._iteration = 0
        self._start = time.time()
        self._budget = _Budget(spec)
        self._fifo = type(spec.scheduler) is FIFOScheduler
        self._sync = not self._fifo or spec.stopper is not None
        self._check_metric = not self._fifo and spec.scheduler.metric is not None
        self._check_searcher_metric = (
            not spec.searcher.controls_trial_count and spec.searcher.metric is not None
        )
        self._view = TrialsView(self.trials)
        self._stream = spec.stream if spec.stream is not None else sys.stdout
        self._factory = TrialFactory(spec)
        self._checkpoints = CheckpointBook(spec.checkpoint_config)
        self._state = StateWriter(spec, self._start)
        self._output = None
        if spec.reporter is not None or spec.verbose >= 2:  # else it would print nothing
            from overtone.progress._output import make_output

            self._output = make_output(
                spec,
                lambda: list(self._view),
                lambda: resource_usage(spec.executor, self.trials, self._running),
                start_time=self._start,
                interval_s=_REPORT_INTERVAL_S,
            )
        self._callbacks = guarded_callbacks(spec, self._output)
        # The worker makes each trial's folder and files (TrialInfo.files); the driver makes
        # the folder itself only for callbacks that may write there at on_trial_start.
        self._mkdir_at_launch = self._callbacks._needs_trial_dir_at_start
        self._spare_dirs = spec.executor.prepares_ahead and not self._mkdir_at_launch
        self._journal_files = (
            (RESULT_FILE, PROGRESS_FILE) if spec.default_loggers else (RESULT_FILE,)
        )
        if spec.restored is not None:
            self._factory = continue_study(
                spec, spec.restored, self.trials, self._queue, self._checkpoints.prune
            )
            spec.restored.trials = []  # the table has them now, the finished ones spilled
            # The searcher and num_samples (which may have grown) decide whether more come.
            self._search_done = False

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> None:
        spec = self.spec
        os.makedirs(spec.experiment_path, exist_ok=True)
        remove_spare_dirs(spec.experiment_path)  # left by workers killed in an earlier run
        failed = True
        terminated = on_sigterm()
        try:
            if spec.executor_key is None:  # (tune.run sets it up before the controller)
                spec.executor.setup(
                    f"{spec.trainable_name}-{self._factory.prefix}", spec.trainable_blob
                )
            self._callbacks.setup(stop=spec.stopper, num_samples=spec.num_samples)
            self._start_trials()
            # Before any trial reports: a restore after an early crash (or a disk that
            # fills at once) continues these trials under their own ids.
            self._save_state()
            while True:
                self._start_trials()
                if not self._running and not self._queue and self._search_done:
                    break
                if self._stop_all or self._budget.over():
                    self._stop_everything()
                    break
                if not self._running:
                    if self._queue:
                        self._start_held_back()
                        continue
                    time.sleep(0.005)  # the searcher asked us to wait, with nothing running
                    self._tick()
                    continue
                events = spec.executor.wait(0.0 if self._unsent else self._budget.timeout())
                if self._unsent:
                    events, self._unsent = [*self._unsent, *events], []
                for event in events:
                    if event.trial_id not in self._running:
                        continue  # a trial ended earlier in this batch (a rejected result)
                    if isinstance(event, ResultEvent):
                        self._on_result(event)
                    elif isinstance(event, DoneEvent):
                        self._on_done(event.trial_id)
                    else:
                        self._on_error(event.trial_id, event.error)
                self._tick()
            failed = False
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see on_sigterm)
            failed = False
            self._interrupted = True
            print(
                "\nExperiment interrupted: every result so far is saved in "
                f"{spec.experiment_path}",
                file=self._stream,
            )
        finally:
            try:
                teardown(
                    spec,
                    self._checkpoints.close,
                    self.trials.live(),
                    self._save_state,
                    lambda: self._callbacks.on_experiment_end(self._view),
                    quiet=failed,
                )
            finally:
                if terminated is not None:
                    terminated.restore()
        if terminated is not None and terminated.received:
            signal.raise_signal(signal.SIGTERM)  # now the previous handler's turn

    def _tick(self) -> None:
        interval = max(_STATE_INTERVAL_S, _STATE_COST_FACTOR * self._state.last_duration)
        if self._dirty and time.time() - self._state.last_save >= interval:
            self._save_state(whole=False)
        if self._output is not None:
            self._output.tick()

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
        return choose_queued(
            self.spec.scheduler, self._queue, self.trials, self._finish, self._restart
        )

    def _start_held_back(self) -> None:
        """Nothing runs, yet trials wait: ask the scheduler again (HyperBand answers None
        once, then closes its brackets), and start its choice or say why nothing can run."""
        chosen = startable_held_back(self.spec, self._choose_queued(), self._queue)
        if chosen is None:
            return
        self._queue.remove(chosen)
        self._launch(chosen)

    def _create_trial(self) -> Trial | None:
        trial = self._factory.create()
        if self._factory.exhausted:
            self._search_done = True
        if trial is None:
            return None
        self.trials.add(trial)
        if not self._fifo:
            self.spec.scheduler.on_trial_add(trial.snapshot())
        self._touch(trial)
        return trial

    def _launch(self, trial: Trial) -> None:
        spec = self.spec
        trial.close()
        if trial.runs:  # a restart: continue from the latest checkpoint, or from scratch
            _rewind(trial)
        files = self._journal_files
        if self._callbacks:
            files += tuple(self._callbacks._trial_files(trial.snapshot()))
        if self._mkdir_at_launch:
            os.makedirs(trial.path, exist_ok=True)
        trial.runs += 1
        info = trial_info(spec, trial, sync=self._sync, files=files, spare_dirs=self._spare_dirs)
        try:
            spec.executor.start_trial(info, trial.resources)
        except ConfigNotSendableError as exc:  # nothing started: it fails as it would have
            self._unsent.append(ErrorEvent(trial.trial_id, f"{type(exc).__name__}: {exc}"))
        trial.status = TrialStatus.RUNNING
        trial.pending_decision = None
        self._running.add(trial.trial_id)
        self._touch(trial)
        self._iteration += 1
        if self._callbacks:
            self._callbacks.on_trial_start(self._iteration, self._view, trial.snapshot())

    # -- events -------------------------------------------------------------------------
    def _on_result(self, event: ResultEvent) -> None:
        spec = self.spec
        trial = self.trials[event.trial_id]
        result = event.result
        problem = result_problem(result)  # the worker checks too; any executor may not
        if problem is not None:
            self._reject(trial, problem)
            return
        result["config"] = trial.config
        trial.last_result = result
        # One snapshot serves the scheduler and the callbacks (the progress lines among them):
        # none of the fields it holds change while this result is handled.
        snap = trial.snapshot() if (not self._fifo or self._callbacks) else None
        scheduled = None if self._fifo else snap
        decision, stop_all = decide(spec, trial, result, scheduled, self._check_metric)
        if stop_all:
            self._stop_all = True
        if decision != Decision.CONTINUE:
            trial.pending_decision = decision.value
        if self._sync:
            spec.executor.send_decision(trial.trial_id, decision)  # it goes on now
        problem = _record(spec, trial, event, self._checkpoints)
        if problem is not None:
            self._reject(trial, problem)
            return
        if self._check_searcher_metric and result["iterations_since_restore"] == 1:
            require_metric(result, spec.searcher.metric, spec.searcher)
        spec.searcher.on_trial_result(trial.trial_id, result)
        self._iteration += 1
        if snap is not None and self._callbacks:
            self._callbacks.on_trial_result(self._iteration, self._view, snap, result)
            if event.checkpoint_dirname:
                self._callbacks.on_checkpoint(
                    self._iteration, self._view, snap, latest_checkpoint(trial)
                )
        self._touch(trial)

    def _restart(self, trial: Trial, restart: TrialRestart) -> None:
        """Apply a scheduler's restart: new config, resources or starting checkpoint."""
        apply_restart(trial, restart, self._checkpoints)
        self._queue.appendleft(trial)
        self._touch(trial)

    def _on_done(self, trial_id: str) -> None:
        trial = self.trials[trial_id]
        self._running.discard(trial_id)
        pausing = trial.pending_decision == Decision.PAUSE.value
        if trial.last_result and (self.spec.checkpoint_config.checkpoint_at_end or pausing):
            self._checkpoints.record_final(trial)
        if trial.pending_restart is not None:
            self._restart(trial, trial.pending_restart)
            return
        if pausing:
            trial.close()
            trial.status = TrialStatus.PAUSED
            self._queue.append(trial)
            self._touch(trial)
            return
        self._finish(trial, TrialStatus.TERMINATED)

    def _reject(self, trial: Trial, problem: str) -> None:
        """A result that cannot be recorded fails its trial, and only that trial."""
        self.spec.executor.kill_trial(trial.trial_id)
        self._on_error(
            trial.trial_id,
            f"ValueError: the trial reported a result that cannot be recorded: {problem}",
        )

    def _on_error(self, trial_id: str, error: str) -> None:
        spec = self.spec
        trial = self.trials[trial_id]
        self._running.discard(trial_id)
        trial.record_failure(error)
        trial.close()
        max_failures = spec.failure_config.max_failures
        if max_failures < 0 or trial.num_failures <= max_failures:
            trial.status = TrialStatus.PENDING
            self._queue.appendleft(trial)
            self._touch(trial)
            return
        self._finish(trial, TrialStatus.ERROR)
        if spec.failure_config.fail_fast:
            self._stop_all = True

    def _finish(self, trial: Trial, status: TrialStatus) -> None:
        trial.status = status
        trial.close()
        if trial.last_result:  # a copy: the result the plugins saw stays as they saw it
            trial.last_result = {**trial.last_result, "trial_id": trial.trial_id, "done": True}
        self._touch(trial)
        self._iteration += 1
        error = status == TrialStatus.ERROR
        snap = _tell_ended(self.spec, trial, error, self._fifo)
        if self._callbacks:
            hook = self._callbacks.on_trial_error if error else self._callbacks.on_trial_complete
            hook(self._iteration, self._view, snap)
        # It changes no more: only its entry is kept, on disk (and here until the next save).
        self._changed[trial.trial_id] = self.trials.retire(trial)

    def _stop_everything(self) -> None:
        for trial_id in list(self._running):
            self.spec.executor.kill_trial(trial_id)
            self._running.discard(trial_id)
            self._finish(self.trials[trial_id], TrialStatus.TERMINATED)

    def _touch(self, trial: Trial) -> None:
        self._changed[trial.trial_id] = trial
        self._dirty = True

    def _save_state(self, whole: bool = True) -> None:
        changed = None
        if not whole:
            entry = self.trials.entry
            changed = [c if isinstance(c, Trial) else entry(c) for c in self._changed.values()]
        self._state.save(self.trials, self._search_done, self._interrupted, changed)
        self._changed.clear()
        self._dirty = False


def _tell_ended(spec: ExperimentSpec, trial: Trial, error: bool, fifo: bool) -> FrozenTrial:
    """Tell the searcher and scheduler (unless FIFO) that ``trial`` ended; its snapshot."""
    spec.searcher.on_trial_complete(trial.trial_id, trial.last_result or None, error=error)
    snap = trial.snapshot()
    if not fifo:
        if error:
            spec.scheduler.on_trial_error(snap)
        else:
            spec.scheduler.on_trial_complete(snap, trial.last_result or None)
    return snap


class _Budget:
    """The experiment's time budget, on the executor's clock where it has one (a
    simulation's)."""

    def __init__(self, spec: ExperimentSpec) -> None:
        clock = getattr(spec.executor, "clock", None)
        self._now = clock.time if callable(getattr(clock, "time", None)) else time.time
        self._start = self._now()
        self._budget_s = spec.time_budget_s

    def timeout(self) -> float:
        """How long to wait for events: the report interval, or less if the budget ends."""
        timeout = _REPORT_INTERVAL_S
        if self._budget_s is not None:
            left = self._budget_s - (self._now() - self._start)
            timeout = max(0.0, min(timeout, left))
        return timeout

    def over(self) -> bool:
        return self._budget_s is not None and self._now() - self._start >= self._budget_s


def _record(
    spec: ExperimentSpec, trial: Trial, event: ResultEvent, checkpoints: CheckpointBook
) -> str | None:
    """Write a trial's result to its journal and record its checkpoint; the problem, if the
    result cannot be written (then nothing is recorded)."""
    result = event.result
    if trial.recorder is None:  # opened at the first result: the worker made the files
        # The first run starts the journal afresh; a later one continues the rewound one.
        trial.recorder = TrialRecorder(trial.path, fresh=trial.runs == 1, csv=spec.default_loggers)
    try:
        trial.recorder.write(result)
    except (TypeError, ValueError, RecursionError) as exc:  # a value JSON cannot hold
        return f"{type(exc).__name__}: {exc}"
    if spec.remote is not None:
        spec.remote.notify(trial.path)
    if event.checkpoint_dirname:
        checkpoints.record(trial, event.checkpoint_dirname, result)
    trial.start_iteration = result["training_iteration"]
    trial.start_time_total = result["time_total_s"]
    return None


def _rewind(trial: Trial) -> None:
    """Before a restart: the trial's journal and counters go back to its latest checkpoint
    (or to the start, without one)."""
    iteration = checkpoint_iteration(trial)
    last = rewind_journal(trial.path, iteration)
    trial.start_iteration = iteration
    trial.start_time_total = float(last.get("time_total_s", 0.0)) if last else 0.0
    trial.last_result = {**last, "config": trial.config} if last else {}
