"""``SimulatedExecutor``: trials that run on a simulated clock, in the driver, in no time.

A trial's results come from a function of ``(config, iteration)`` or from a table of recorded
learning curves, not from running code; each result takes simulated seconds
(``time_this_iter_s``), and the executor's :class:`SimulatedClock` jumps from one result to the
next. The controller, scheduler, searcher, stoppers and storage are the real ones, so a
simulation answers "what would this scheduler have done, and at what cost" exactly as a real
run would, in seconds. ``tune.replay`` builds on it.
"""

from __future__ import annotations

import heapq
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from overtone._trial import Decision, Resources
from overtone.executors._base import DoneEvent, ErrorEvent, Event, Executor, ResultEvent
from overtone.runtime._runner import TrialDirs
from overtone.runtime._session import TrialInfo
from overtone.storage._layout import checkpoint_name

MetricsFn = Callable[[dict[str, Any], int], "Mapping[str, Any] | None"]


class SimulatedClock:
    """Simulated seconds since the start; only the executor moves it forward."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def time(self) -> float:
        return self._now

    def advance_to(self, t: float) -> None:
        if t > self._now:
            self._now = t


def config_key(config: Any) -> str:
    """A canonical text for a config, to find its recorded curve."""
    return json.dumps(config, sort_keys=True, default=repr)


class CurveTable:
    """Recorded learning curves: a list of results per config.

    A config that was recorded gets its own curve (configs recorded twice take their curves
    in turn); any other gets the curve of the nearest recorded config (numbers compared after
    scaling each parameter to the range recorded, other values by equality), so that a
    searcher may propose configs the recording never ran.
    """

    def __init__(self, rows: Sequence[tuple[dict[str, Any], Sequence[Mapping[str, Any]]]]):
        if not rows:
            raise ValueError("the table of curves is empty, but must hold at least one trial")
        # Not copied (a replay's table holds every recorded result): never changed here.
        self.rows: list[tuple[dict[str, Any], Sequence[Mapping[str, Any]]]] = list(rows)
        self._by_key: dict[str, list[int]] = {}
        for i, (config, _) in enumerate(self.rows):
            self._by_key.setdefault(config_key(config), []).append(i)
        self._next: dict[str, int] = {}
        self._flat = [_flatten(config) for config, _ in self.rows]
        self._ranges: dict[str, tuple[float, float]] = {}
        for flat in self._flat:
            for k, v in flat.items():
                if _is_number(v):
                    lo, hi = self._ranges.get(k, (v, v))
                    self._ranges[k] = (min(lo, v), max(hi, v))

    def curve_for(self, config: dict[str, Any]) -> Sequence[Mapping[str, Any]]:
        key = config_key(config)
        indices = self._by_key.get(key)
        if indices:
            turn = self._next.get(key, 0)
            self._next[key] = turn + 1
            return self.rows[indices[turn % len(indices)]][1]
        return self.rows[self._nearest(config)][1]

    def _nearest(self, config: dict[str, Any]) -> int:
        flat = _flatten(config)
        best, best_distance = 0, math.inf
        for i, other in enumerate(self._flat):
            distance = 0.0
            for k in set(flat) | set(other):
                a, b = flat.get(k), other.get(k)
                if _is_number(a) and _is_number(b):
                    lo, hi = self._ranges.get(k, (0.0, 1.0))
                    distance += ((float(a) - float(b)) / ((hi - lo) or 1.0)) ** 2
                elif a != b:
                    distance += 1.0
            if distance < best_distance:
                best, best_distance = i, distance
        return best


class _Run:
    __slots__ = (
        "trial_id", "config", "info", "iteration", "since_restore", "time_total",
        "start_total", "curve", "waiting", "cancelled", "cpu", "gpu", "upcoming",
    )  # fmt: skip

    def __init__(
        self, info: TrialInfo, curve: Sequence[Mapping[str, Any]] | None, cpu: float, gpu: float
    ) -> None:
        self.trial_id = info.trial_id
        self.config = info.config
        self.info = info
        self.iteration = info.start_iteration
        self.since_restore = 0
        self.time_total = info.start_time_total
        self.start_total = info.start_time_total
        self.curve = curve
        self.waiting = False
        self.cancelled = False
        self.cpu, self.gpu = cpu, gpu
        self.upcoming: tuple[Mapping[str, Any], float] | None = None  # next metrics, duration


class SimulatedExecutor(Executor):
    """Runs trials on a simulated clock, from a function or a table of learning curves.

    Args:
        metrics: either a function ``(config, iteration) -> dict of metrics`` (``iteration``
            counts from 1; returning None ends the trial before that iteration), or a
            :class:`CurveTable` / a list of ``(config, [result, ...])`` pairs.
        num_slots: how many trials run at once (the CPUs it offers; a trial takes its own
            ``resources``, one CPU by default).
        max_iterations: the most results a trial reports (needed with a function that never
            returns None).
        iteration_time: simulated seconds per result where the metrics give no
            ``time_this_iter_s``: a number, or a function ``(config, iteration) -> seconds``.
        checkpoint_every: report an (empty) checkpoint every this many results, so that
            schedulers that pause trials (HyperBand, PBT) can resume them; 0: never.

    The clock (:attr:`clock`) starts at 0 and jumps to each next result; ``time_total_s``
    and ``timestamp`` of the results are on it.

    Example::

        def curve(config, t):
            return {"loss": config["lr"] + 1 / t, "time_this_iter_s": 2.0}

        sim = SimulatedExecutor(curve, num_slots=8, max_iterations=100)
        tune.Tuner(lambda config: None, param_space={"lr": tune.uniform(0, 1)},
                   tune_config=tune.TuneConfig(num_samples=500, scheduler=ASHAScheduler(
                       metric="loss", mode="min", max_t=100)),
                   run_config=tune.RunConfig(executor=sim)).fit()
        print(sim.clock.time(), sim.iterations)
    """

    def __init__(
        self,
        metrics: MetricsFn | CurveTable | Sequence[Any],
        *,
        num_slots: int = 4,
        max_iterations: int | None = None,
        iteration_time: float | Callable[[dict[str, Any], int], float] = 1.0,
        checkpoint_every: int = 0,
    ) -> None:
        if isinstance(num_slots, bool) or not isinstance(num_slots, int) or num_slots < 1:
            raise ValueError(f"num_slots is {num_slots!r}, but must be an int >= 1")
        if max_iterations is not None and (
            isinstance(max_iterations, bool)
            or not isinstance(max_iterations, int)
            or max_iterations < 1
        ):
            raise ValueError(f"max_iterations is {max_iterations!r}, but must be None or >= 1")
        if not callable(iteration_time) and (
            not _is_number(iteration_time) or not 0 <= iteration_time < math.inf
        ):
            raise ValueError(
                f"iteration_time is {iteration_time!r}, but must be a number >= 0 or a function"
            )
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int):
            raise ValueError(f"checkpoint_every is {checkpoint_every!r}, but must be an int")
        if callable(metrics):
            self._fn: MetricsFn | None = metrics
            self._table: CurveTable | None = None
            if max_iterations is None:
                raise ValueError(
                    "max_iterations is None, but a metrics function needs it (or must "
                    "return None to end a trial): pass max_iterations=..."
                )
        else:
            self._fn = None
            self._table = metrics if isinstance(metrics, CurveTable) else CurveTable(metrics)
        self._slots = num_slots
        self._max_iterations = max_iterations
        self._iteration_time = iteration_time
        self._checkpoint_every = checkpoint_every
        self.clock = SimulatedClock()
        self.iterations = 0  # results produced in all: the compute the simulation spent
        self.compute_s = 0.0  # the simulated seconds of all those results
        self._runs: dict[str, _Run] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._ready: list[Event] = []  # events due now (ends of trials, errors)
        self._cpu = 0.0
        self._gpu = 0.0
        self._dirs = TrialDirs()

    # -- the executor interface --------------------------------------------------------------
    def setup(self, trainable_key: str, trainable_blob: bytes) -> None:
        """The trainable is not run: its results come from the table or the function."""

    def total_resources(self) -> Resources:
        return Resources(cpu=float(self._slots), gpu=0.0)

    def can_start(self, resources: Resources) -> bool:
        return self._cpu + resources.cpu <= self._slots + 1e-9 and resources.gpu == 0

    def start_trial(self, info: TrialInfo, resources: Resources) -> None:
        self._dirs.prepare(info)  # its folder and empty files, as a worker makes them
        curve = self._table.curve_for(info.config) if self._table is not None else None
        run = _Run(info, curve, resources.cpu, resources.gpu)
        self._runs[info.trial_id] = run
        self._cpu += run.cpu
        self._schedule(run)

    def send_decision(self, trial_id: str, decision: Decision) -> None:
        run = self._runs.get(trial_id)
        if run is None or not run.waiting:
            return
        run.waiting = False
        if decision == Decision.CONTINUE:
            self._schedule(run)
        else:  # STOP, or PAUSE (resumed later from its latest checkpoint)
            self._finish(run)

    def kill_trial(self, trial_id: str) -> None:
        run = self._runs.pop(trial_id, None)
        if run is not None:
            run.cancelled = True
            self._cpu -= run.cpu

    def wait(self, timeout: float | None) -> list[Event]:
        if self._ready:
            events, self._ready = self._ready, []
            return events
        while self._heap:
            due, _, trial_id = heapq.heappop(self._heap)
            run = self._runs.get(trial_id)
            if run is None or run.cancelled or run.upcoming is None:
                continue
            self.clock.advance_to(due)
            events: list[Event] = [self._result(run), *self._ready]
            self._ready = []
            return events
        return []

    def shutdown(self) -> None:
        self._runs.clear()
        self._heap.clear()

    # -- the simulation ----------------------------------------------------------------------
    def _metrics(self, run: _Run, iteration: int) -> Mapping[str, Any] | None:
        if self._max_iterations is not None and iteration > self._max_iterations:
            return None
        if run.curve is not None:
            return run.curve[iteration - 1] if iteration <= len(run.curve) else None
        assert self._fn is not None
        value = self._fn(run.config, iteration)
        return None if value is None else dict(value)

    def _duration(self, run: _Run, iteration: int, metrics: Mapping[str, Any]) -> float:
        recorded = metrics.get("time_this_iter_s")
        if _is_number(recorded) and recorded >= 0:
            return float(recorded)
        if callable(self._iteration_time):
            return float(self._iteration_time(run.config, iteration))
        return float(self._iteration_time)

    def _schedule(self, run: _Run) -> None:
        """Queue the trial's next result at the time it will be ready, or end it."""
        iteration = run.iteration + 1
        try:
            metrics = self._metrics(run, iteration)
            duration = None if metrics is None else self._duration(run, iteration, metrics)
        except Exception as exc:  # noqa: BLE001 - the user's function failed: the trial fails
            self._fail(run, f"{type(exc).__name__}: {exc}")
            return
        if metrics is None or duration is None:
            self._finish(run)
            return
        run.upcoming = (metrics, duration)
        self._seq += 1
        heapq.heappush(self._heap, (self.clock.time() + duration, self._seq, run.trial_id))

    def _result(self, run: _Run) -> ResultEvent:
        iteration = run.iteration + 1
        assert run.upcoming is not None
        metrics, duration = run.upcoming
        run.upcoming = None
        self.iterations += 1
        self.compute_s += duration
        run.iteration = iteration
        run.since_restore += 1
        now = self.clock.time()
        result = {k: v for k, v in metrics.items() if k not in _AUTO}
        result.update(
            done=bool(metrics.get("done", False)),
            training_iteration=iteration,
            trial_id=run.trial_id,
            time_this_iter_s=duration,
            time_total_s=run.time_total + duration,
            iterations_since_restore=run.since_restore,
            timestamp=int(now),
        )
        run.time_total = result["time_total_s"]
        result["time_since_restore"] = run.time_total - run.start_total
        checkpoint = None
        if self._checkpoint_every and iteration % self._checkpoint_every == 0:
            checkpoint = checkpoint_name(iteration)
            os.makedirs(os.path.join(run.info.trial_dir, checkpoint), exist_ok=True)
            result["checkpoint_dir_name"] = checkpoint
        if run.info.sync:
            run.waiting = True
        else:  # nobody decides: it goes on (or ends at ``done``)
            if result["done"]:
                self._finish(run)
            else:
                self._schedule(run)
        return ResultEvent(run.trial_id, result, checkpoint)

    def _finish(self, run: _Run) -> None:
        if self._runs.pop(run.trial_id, None) is not None:
            self._cpu -= run.cpu
            self._ready.append(DoneEvent(run.trial_id))

    def _fail(self, run: _Run, error: str) -> None:
        if self._runs.pop(run.trial_id, None) is not None:
            self._cpu -= run.cpu
            self._ready.append(ErrorEvent(run.trial_id, error))


_AUTO = frozenset(
    {
        "training_iteration", "trial_id", "time_this_iter_s", "time_total_s",
        "time_since_restore", "iterations_since_restore", "timestamp", "date", "pid",
        "hostname", "node_ip", "config", "checkpoint_dir_name", "should_checkpoint", "done",
    }
)  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(config, dict):
        return {prefix: config}
    out: dict[str, Any] = {}
    for k, v in config.items():
        out.update(_flatten(v, f"{prefix}{k}/") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out
