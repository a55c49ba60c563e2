"""The replicas' keeper: a thread that drives the executor, the only one that calls it.

It starts replicas as trials, replaces those that die, and, in follow mode, swaps them to a
better checkpoint as the experiment finds one: new replicas start first (or, when the
executor has no room for them, the old ones leave one at a time, so that one always
serves), and an old replica is retired (it finishes its batch, then stops) only once a new
one is ready. The front's event loop learns of deaths and retirements through
``loop.call_soon_threadsafe``; the supervisor learns of connections, readiness and lost
connections through its queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cloudpickle

from overtone._trial import Decision, Resources
from overtone.executors import DoneEvent, ErrorEvent, Executor, ResultEvent
from overtone.runtime._session import TrialInfo
from overtone.serve._metrics import Metrics
from overtone.serve._router import Router
from overtone.serve._select import Selection

logger = logging.getLogger("overtone.serve")

TRAINABLE_KEY = "overtone-serve-replica"
_TICK_S = 0.05
_MAX_LOAD_FAILURES = 3  # consecutive replicas of one checkpoint that could not load it
_RETIRE_GRACE_S = 30.0  # a retired replica that does not stop by then is killed


@dataclass(eq=False)
class _Replica:
    replica_id: str
    generation: int
    started: float
    state: str = "starting"  # -> ready -> (retiring) -> ended
    pid: int | None = None
    hostname: str = ""
    retired_at: float = 0.0


class Supervisor:
    """Keeps ``replicas`` replicas of the current selection running on ``executor``."""

    def __init__(
        self,
        executor: Executor,
        predictor: Any,
        selection: Selection,
        replicas: int,
        resources: Resources,
        address: tuple[str, int],
        key: bytes,
        work_dir: str,
        router: Router,
        loop: asyncio.AbstractEventLoop,
        metrics: Metrics,
        follow: Callable[[Selection], Selection | None] | None,
        follow_interval_s: float,
    ) -> None:
        self.thread = threading.Thread(
            target=self.run, name="overtone-serve-replicas", daemon=True
        )
        self.executor = executor
        self.predictor_blob = cloudpickle.dumps(predictor)
        self.selection = selection
        self.generation = 1
        self.want = replicas
        self.resources = resources
        self.address = address
        self.key = key
        self.work_dir = work_dir
        self.router = router
        self.loop = loop
        self.metrics = metrics
        self.follow = follow
        self.follow_interval_s = follow_interval_s
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.replicas: dict[str, _Replica] = {}
        self.lock = threading.Lock()  # guards selection/generation/replicas for readers
        self.load_failures = 0
        self.last_failure = ""
        self.backoff_until = 0.0
        self.consecutive_deaths = 0
        self.fatal: str | None = None  # set when no replica of the first checkpoint loads
        self.changed = threading.Event()  # set on every readiness or failure (for waiters)
        self._selections = {1: selection}
        self._rejected: set[str] = set()  # checkpoints that no replica could load
        self._halt = threading.Event()
        self._count = 0
        self._next_follow = time.monotonic() + follow_interval_s

    # -- called from other threads --------------------------------------------------------
    def post(self, message: tuple[Any, ...]) -> None:
        self.inbox.put(message)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float) -> None:
        """Stop the replicas and the executor; wait for that at most ``timeout`` s."""
        self._halt.set()
        self.thread.join(timeout)

    def snapshot(self) -> tuple[Selection, int]:
        with self.lock:
            return self.selection, self.generation

    def ready_count(self) -> int:
        with self.lock:
            return sum(1 for r in self.replicas.values() if r.state == "ready")

    # -- the thread -----------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.executor.setup(TRAINABLE_KEY, cloudpickle.dumps(_replica_trainable()))
            while not self._halt.is_set():
                self._tick()
        except BaseException as exc:  # noqa: BLE001 - reported through fatal
            logger.exception("overtone serve: the replica supervisor failed")
            self.fatal = f"the replica supervisor failed: {type(exc).__name__}: {exc}"
            self._call(self.router.set_unavailable, self.fatal)
            self.changed.set()
        finally:
            self._shutdown()

    def _tick(self) -> None:
        while True:
            try:
                self._on_message(self.inbox.get_nowait())
            except queue.Empty:
                break
        started = time.monotonic()
        for event in self.executor.wait(_TICK_S):
            self._on_event(event)
        self._reconcile()
        if self.follow is not None and time.monotonic() >= self._next_follow:
            self._follow()
        spent = time.monotonic() - started
        if spent < _TICK_S:
            self._halt.wait(_TICK_S - spent)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the loop is closed: the server is gone

    # -- messages from the front and events from the executor -----------------------------
    def _on_message(self, message: tuple[Any, ...]) -> None:
        kind, replica_id = message[0], message[1]
        replica = self.replicas.get(replica_id)
        if replica is None:
            return
        if kind == "connected":
            replica.pid, replica.hostname = message[2], message[3]
        elif kind == "ready":
            if replica.state == "starting":
                with self.lock:
                    replica.state = "ready"
                self.changed.set()
                if replica.generation == self.generation:
                    self.load_failures = 0
                    self.consecutive_deaths = 0
                    self._call(self.router.set_unavailable, None)
        elif kind == "failed":
            self._ended(
                replica,
                f"replica {replica_id} could not load the predictor:\n" + message[2],
                load_failure=True,
            )
        elif kind == "lost":
            self._ended(replica, message[2])

    def _on_event(self, event: Any) -> None:
        if isinstance(event, ResultEvent):  # a predictor called tune.report: go on
            self.executor.send_decision(event.trial_id, Decision.CONTINUE)
            return
        replica = self.replicas.get(event.trial_id)
        if replica is None:
            return
        if isinstance(event, ErrorEvent):
            lines = event.error.strip().splitlines() or ["(no details)"]
            self._ended(
                replica,
                f"replica {self._label(replica)} failed: {lines[-1]}",
                load_failure=replica.state == "starting",
                details=event.error,
                from_executor=True,
            )
        elif isinstance(event, DoneEvent):
            self._ended(
                replica,
                f"replica {self._label(replica)} ended",
                from_executor=True,
            )

    @staticmethod
    def _label(replica: _Replica) -> str:
        if replica.pid is None:
            return replica.replica_id
        return f"{replica.replica_id} (pid {replica.pid} on {replica.hostname})"

    def _ended(
        self,
        replica: _Replica,
        reason: str,
        load_failure: bool = False,
        details: str = "",
        from_executor: bool = False,
    ) -> None:
        if replica.state == "ended":
            return
        unasked = replica.state != "retiring"
        with self.lock:
            replica.state = "ended"
            del self.replicas[replica.replica_id]
        if not from_executor:
            self.executor.kill_trial(replica.replica_id)
        self._call(self.router.drop, replica.replica_id, reason)
        self.changed.set()
        if not unasked:
            return
        with self.metrics.lock:
            self.metrics.replica_deaths += 1
        logger.warning("overtone serve: %s", reason)
        now = time.monotonic()
        if load_failure and replica.generation == self.generation:
            self.load_failures += 1
            self.last_failure = details or reason
            if self.load_failures >= _MAX_LOAD_FAILURES:
                self._give_up(self.last_failure)
                return
        if now - replica.started < 5.0:
            self.consecutive_deaths += 1
            self.backoff_until = now + min(5.0, 0.1 * 2**self.consecutive_deaths)
        else:
            self.consecutive_deaths = 0

    def _give_up(self, why: str) -> None:
        """Replicas of the current checkpoint keep failing to load it."""
        if self.generation > 1 and any(
            r.generation < self.generation for r in self.replicas.values()
        ):
            # A swap failed: keep serving the old checkpoint, and do not try this one again.
            logger.warning("overtone serve: the swap to a new checkpoint failed:\n%s", why)
            self._rejected.add(self.selection.checkpoint.path)
            with self.lock:
                self.generation = max(
                    r.generation for r in self.replicas.values() if r.generation < self.generation
                )
                self.selection = self._selections[self.generation]
            self.load_failures = 0
            return
        self.fatal = f"no replica could load the predictor:\n{why}"
        last_line = why.strip().splitlines()[-1] if why.strip() else ""
        self._call(
            self.router.set_unavailable, f"no replica could load the predictor: {last_line}"
        )
        self.changed.set()

    # -- keeping the replicas -------------------------------------------------------------
    def _reconcile(self) -> None:
        if self.fatal is not None:
            return
        now = time.monotonic()
        current = [r for r in self.replicas.values() if r.generation == self.generation]
        old = [r for r in self.replicas.values() if r.generation != self.generation]
        live_current = [r for r in current if r.state in ("starting", "ready")]
        ready_current = [r for r in current if r.state == "ready"]
        live_old = [r for r in old if r.state in ("starting", "ready")]
        # Old replicas that are not serving go first; the others once a new one is ready.
        for replica in [r for r in live_old if r.state == "starting"]:
            self._retire(replica)
        live_old = [r for r in live_old if r.state == "ready"]
        surplus = len(live_old) + len(ready_current) - self.want
        for replica in live_old[: max(0, surplus)]:
            self._retire(replica)
        live_old = [r for r in live_old if r.state == "ready"]
        if len(live_current) < self.want and now >= self.backoff_until:
            if self.executor.can_start(self.resources):
                self._start()
            elif (
                live_old
                and not any(r.state == "starting" for r in current)
                and (len(live_old) + len(ready_current) > 1 or self.want == 1)
            ):
                self._retire(live_old[0])  # no room for a new one: make room, one by one
        for replica in self.replicas.values():
            if replica.state == "retiring" and now - replica.retired_at > _RETIRE_GRACE_S:
                self._ended(replica, f"replica {replica.replica_id} did not stop when asked")

    def _start(self) -> None:
        self._count += 1
        replica_id = f"replica-{self.generation}-{self._count}"
        selection = self.selection
        replica = _Replica(replica_id, self.generation, time.monotonic())
        with self.lock:
            self.replicas[replica_id] = replica
        self._expect(replica_id, self.generation)
        config = {
            "replica_id": replica_id,
            "address": list(self.address),
            "key": self.key,
            "predictor": self.predictor_blob,
            "checkpoint": selection.checkpoint,
            "config": selection.config,
        }
        info = TrialInfo(
            trial_id=replica_id,
            trial_name=replica_id,
            trial_dir=os.path.join(self.work_dir, replica_id),
            experiment_name=os.path.basename(self.work_dir),
            experiment_path=self.work_dir,
            config=config,
            resources=self.resources.to_dict(),
            sync=False,
        )
        with self.metrics.lock:
            self.metrics.replica_starts += 1
        self.executor.start_trial(info, self.resources)

    def _expect(self, replica_id: str, generation: int) -> None:
        # The link must exist before the replica can connect: wait for the loop to add it.
        done = threading.Event()

        def add() -> None:
            self.router.expect(replica_id, generation)
            done.set()

        self._call(add)
        done.wait(5.0)

    def _retire(self, replica: _Replica) -> None:
        if replica.state in ("retiring", "ended"):
            return
        with self.lock:
            replica.state = "retiring"
        replica.retired_at = time.monotonic()
        self._call(self.router.retire, replica.replica_id)

    # -- follow mode ----------------------------------------------------------------------
    def _follow(self) -> None:
        self._next_follow = time.monotonic() + self.follow_interval_s
        assert self.follow is not None
        try:
            better = self.follow(self.selection)
        except Exception as exc:  # noqa: BLE001 - a half-written experiment: try again later
            logger.debug("overtone serve: cannot read the experiment now: %s", exc)
            return
        if better is None or better.checkpoint.path in self._rejected:
            return
        logger.warning(
            "overtone serve: swapping to a better checkpoint: %s (trial %s, %s=%s)",
            better.checkpoint.path,
            better.trial_name,
            better.metric,
            better.score,
        )
        with self.lock:
            self.generation += 1
            self.selection = better
            self._selections[self.generation] = better
        self.load_failures = 0
        with self.metrics.lock:
            self.metrics.swaps += 1

    # -- the end --------------------------------------------------------------------------
    def _shutdown(self) -> None:
        for replica in list(self.replicas.values()):
            if replica.state != "ended":
                self._retire(replica)
        deadline = time.monotonic() + 2.0
        try:
            while self.replicas and time.monotonic() < deadline:
                for event in self.executor.wait(0.05):
                    replica = self.replicas.pop(getattr(event, "trial_id", ""), None)
                    if replica is not None:
                        replica.state = "ended"
        except Exception:  # noqa: BLE001 - shutting down: kill whatever is left below
            pass
        for replica_id in list(self.replicas):
            try:
                self.executor.kill_trial(replica_id)
            except Exception:  # noqa: BLE001
                pass
        self.replicas.clear()
        try:
            self.executor.shutdown()
        except Exception:  # noqa: BLE001
            logger.exception("overtone serve: the executor did not shut down cleanly")


def _replica_trainable() -> Any:
    from overtone.serve._replica import run_replica

    return run_replica
