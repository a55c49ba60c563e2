"""A scripted executor: trials whose results come from a script, in this process.

It runs no user code and starts no process: each trial is a Python iterator (the *script*)
that yields one result per step. It implements the same :class:`Executor` interface as the
real executors, so the controller can be tested directly, and fast, the way httpx's
``MockTransport`` stands in for a network. Everything is deterministic: each call to
:meth:`ScriptedExecutor.wait` steps one running trial, round-robin in start order (a trial
started meanwhile joins the next round), and time is the sum of the steps' ``seconds``.

What it does as a worker would: it makes the trial's folder and files, adds the automatic
result keys (``training_iteration``, ``time_total_s``, ``iterations_since_restore``...),
saves checkpoint folders (the trial's ``state``, pickled into ``state.pkl``) when a step asks,
every ``checkpoint_frequency`` steps, on a PAUSE (as a class trainable does) and at the end
with ``checkpoint_at_end``, and restores ``state`` from the checkpoint a trial starts from.

Example::

    def script(info, state):
        for i in range(3):
            yield Step({"loss": 1.0 / (i + 1)}, state=i, checkpoint=True)

    executor = ScriptedExecutor(script)
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from overtone._trial import Resources
from overtone.executors._base import DoneEvent, ErrorEvent, Event, Executor, ResultEvent
from overtone.runtime._runner import TrialDirs
from overtone.runtime._session import TrialInfo
from overtone.storage._layout import checkpoint_name

STATE_FILE = "state.pkl"  # a scripted trial's state, in each of its checkpoint folders


@dataclass(frozen=True)
class Step:
    """One result of a scripted trial.

    Args:
        metrics: what the trial reports (``done=True`` ends it, as in ``tune.report``).
        state: the trial's state after this step, saved in its checkpoints.
        checkpoint: whether this result comes with a checkpoint of ``state``.
        seconds: how long the step takes, in the trial's (virtual) time.
    """

    metrics: dict[str, Any]
    state: Any = None
    checkpoint: bool = False
    seconds: float = 1.0


#: ``script(info, restored_state)``: the steps of one run of a trial. ``restored_state`` is the
#: state saved in ``info.restore_checkpoint`` (None without one). A plain dict is a Step's
#: metrics; an exception ends the run with an ErrorEvent carrying its traceback.
Script = Callable[[TrialInfo, Any], Iterable["Step | dict[str, Any]"]]


@dataclass
class _Run:
    info: TrialInfo
    resources: Resources
    steps: Iterator[Step | dict[str, Any]]
    state: Any
    iteration: int
    time_total: float
    since_restore: int = 0
    time_since_restore: float = 0.0
    waiting: bool = False  # for the decision on its last result
    saved: set[int] = field(default_factory=set)


class ScriptedExecutor(Executor):
    """Runs each trial as ``script(info, restored_state)``, one step per :meth:`wait`.

    Args:
        script: the steps of a trial's run (see :data:`Script`).
        resources: everything the executor has; a trial starts when its ask fits in what the
            running trials leave free.
    """

    def __init__(self, script: Script, resources: Resources | None = None) -> None:
        self.script = script
        self.resources = resources if resources is not None else Resources(cpu=4)
        self.trainable_key: str | None = None
        self.started: list[str] = []  # trial ids, once per start
        self.decisions: list[tuple[str, str]] = []  # (trial id, decision), as received
        self.killed: list[str] = []
        self.closed = False
        self._runs: dict[str, _Run] = {}
        self._round: deque[str] = deque()
        self._pending: list[Event] = []
        self._dirs = TrialDirs()

    # -- the interface ----------------------------------------------------------------------
    def setup(self, trainable_key: str, trainable_blob: bytes) -> None:
        self.trainable_key = trainable_key

    def total_resources(self) -> Resources:
        return self.resources

    def can_start(self, resources: Resources) -> bool:
        used = [run.resources for run in self._runs.values()]
        if resources.cpu + sum(r.cpu for r in used) > self.resources.cpu:
            return False
        if resources.gpu + sum(r.gpu for r in used) > self.resources.gpu:
            return False
        for key, value in resources.custom.items():
            taken = sum(r.custom.get(key, 0.0) for r in used)
            if value + taken > self.resources.custom.get(key, 0.0):
                return False
        return True

    def start_trial(self, info: TrialInfo, resources: Resources) -> None:
        if info.trial_id in self._runs:
            raise ValueError(f"trial {info.trial_id} is already running")
        self._dirs.prepare(info)  # its folder and empty files, as a worker makes them
        state = None
        if info.restore_checkpoint is not None:
            path = os.path.join(info.restore_checkpoint, STATE_FILE)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    state = pickle.load(f)
        self.started.append(info.trial_id)
        run = _Run(info, resources, iter(()), state, info.start_iteration, info.start_time_total)
        self._runs[info.trial_id] = run
        try:
            run.steps = iter(self.script(info, state))
        except Exception:  # noqa: BLE001 - the script's failure is the trial's
            self._end(run, ErrorEvent(info.trial_id, traceback.format_exc()))

    def send_decision(self, trial_id: str, decision: Any) -> None:
        value = str(getattr(decision, "value", decision))
        if value not in ("CONTINUE", "STOP", "PAUSE"):
            raise ValueError(f"decision is {decision!r}, but must be CONTINUE, STOP or PAUSE")
        self.decisions.append((trial_id, value))
        run = self._runs.get(trial_id)
        if run is None or not run.waiting:
            raise ValueError(f"trial {trial_id} is not waiting for a decision")
        run.waiting = False
        if value == "PAUSE" or (value == "STOP" and run.info.checkpoint_at_end):
            self._save(run)  # a class trainable saves when it pauses
        if value != "CONTINUE":
            self._end(run, DoneEvent(trial_id))

    def kill_trial(self, trial_id: str) -> None:
        self.killed.append(trial_id)
        self._runs.pop(trial_id, None)

    def wait(self, timeout: float | None) -> list[Event]:
        if self._pending:
            events, self._pending = self._pending, []
            return events
        if not self._round:
            self._round.extend(self._runs)
        while self._round:
            run = self._runs.get(self._round.popleft())
            if run is not None and not run.waiting:
                self._step(run)
                break
        events, self._pending = self._pending, []
        return events

    def shutdown(self) -> None:
        self._runs.clear()
        self.closed = True

    @property
    def running(self) -> list[str]:
        """The ids of the trials running now, in start order."""
        return list(self._runs)

    # -- a trial's steps ----------------------------------------------------------------------
    def _step(self, run: _Run) -> None:
        info = run.info
        try:
            step = next(run.steps)
        except StopIteration:
            if info.checkpoint_at_end and run.since_restore:
                self._save(run)
            self._end(run, DoneEvent(info.trial_id))
            return
        except Exception:  # noqa: BLE001 - the script's failure is the trial's
            self._end(run, ErrorEvent(info.trial_id, traceback.format_exc()))
            return
        if not isinstance(step, Step):
            step = Step(dict(step), state=run.state)
        run.state = step.state
        run.iteration += 1
        run.since_restore += 1
        run.time_total += step.seconds
        run.time_since_restore += step.seconds
        result = dict(step.metrics)
        result.setdefault("done", False)
        result["training_iteration"] = run.iteration
        result["trial_id"] = info.trial_id
        result["time_this_iter_s"] = step.seconds
        result["time_total_s"] = run.time_total
        result["time_since_restore"] = run.time_since_restore
        result["iterations_since_restore"] = run.since_restore
        frequency = info.checkpoint_frequency
        dirname = None
        if step.checkpoint or (frequency and run.iteration % frequency == 0):
            dirname = self._save(run)
            result["checkpoint_dir_name"] = dirname
        self._pending.append(ResultEvent(info.trial_id, result, dirname))
        run.waiting = info.sync

    def _save(self, run: _Run) -> str:
        name = checkpoint_name(run.iteration)
        if run.iteration not in run.saved:
            path = os.path.join(run.info.trial_dir, name)
            os.makedirs(path, exist_ok=True)
            with open(os.path.join(path, STATE_FILE), "wb") as f:
                pickle.dump(run.state, f)
            run.saved.add(run.iteration)
        return name

    def _end(self, run: _Run, event: Event) -> None:
        self._runs.pop(run.info.trial_id, None)
        self._pending.append(event)
