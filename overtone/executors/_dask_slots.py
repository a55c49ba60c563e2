"""The Dask executor's slots: the Dask tasks that hold our trials' resources on workers.

A slot is submitted with its first trial, connects back to the driver, and runs trials of
its shape one after another until the driver ends it (see ``_dask_task``). This table keeps
them by id, by trial and by connection, and gives their resources back to the worker's pool
when they end.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from overtone._trial import Resources
from overtone.executors._dask_cluster import DaskCluster, DaskWorker
from overtone.runtime._session import TrialInfo


@dataclass
class Slot:
    """A Dask task holding one trial's resources on a worker; it runs trials one by one."""

    slot_id: int
    worker: str
    resources: Resources
    gpus: tuple[int, ...]
    trial: TrialInfo | None  # the trial it runs; None while it waits for the next
    future: Any = None
    conn: Connection | None = None
    last_seen: float = 0.0
    idle_since: float = 0.0
    pinged: float = 0.0
    resubmit: bool = False


@dataclass(frozen=True)
class TaskArgs:
    """What every slot's task gets besides its slot and first trial."""

    key: str  # the trainable's
    driver: str  # the listener's address
    authkey: bytes
    grace_s: float
    heartbeat_timeout: float


class SlotTable:
    """Our slots, by id, by trial and by connection.

    Args:
        cluster: where the slots' workers are.
        token: makes the Dask keys of this executor's tasks unique.
    """

    def __init__(self, cluster: DaskCluster, token: str) -> None:
        self.cluster = cluster
        self.token = token
        self.by_id: dict[int, Slot] = {}
        self.by_trial: dict[str, Slot] = {}
        self.by_conn: dict[Connection, Slot] = {}
        self.done_futures: deque[int] = deque()  # slots whose task ended, to look at
        self.task: TaskArgs | None = None  # set once the driver listens
        self.wake: Callable[[], None] = lambda: None  # wakes the driver's wait
        self._next_id = 0

    def workers(self) -> set[str]:
        """The workers our slots hold resources on."""
        return {s.worker for s in self.by_id.values()}

    def idle(self, resources: Resources) -> Slot | None:
        """A connected slot of this shape, on a usable worker, waiting for a trial."""
        for slot in self.by_id.values():
            if slot.trial is None and slot.conn is not None and slot.resources == resources:
                worker = self.cluster.workers.get(slot.worker)
                if worker is not None and worker.usable():
                    return slot
        return None

    def release_idle(self) -> None:
        """End the slots waiting for a trial: their resources go back to the cluster."""
        for slot in list(self.by_id.values()):
            if slot.trial is None:
                self.end(slot)

    def open(
        self, info: TrialInfo, resources: Resources, worker: DaskWorker, gpus: tuple[int, ...]
    ) -> None:
        """Hold ``resources`` on ``worker`` and submit a task that runs ``info`` there."""
        worker.pool.take(resources, gpus)
        self._next_id += 1
        slot = Slot(self._next_id, worker.address, resources, gpus, info)
        self.by_id[slot.slot_id] = slot
        self.by_trial[info.trial_id] = slot
        self.submit(slot)

    def submit(self, slot: Slot) -> None:
        from overtone.executors._dask_task import run_slot_task

        task = self.task
        assert slot.trial is not None and task is not None
        worker = self.cluster.workers[slot.worker]
        slot.future = self.cluster.client.submit(
            run_slot_task,
            slot.slot_id,
            task.key,
            task.driver,
            task.authkey,
            slot.trial,
            slot.gpus,
            task.grace_s,
            task.heartbeat_timeout,
            key=f"overtone-slot-{slot.slot_id}-{self.token}",
            workers=[slot.worker],
            allow_other_workers=False,
            resources=worker.dask_resources(slot.resources),
            pure=False,
            retries=0,
        )
        slot.future.add_done_callback(functools.partial(self._future_done, slot.slot_id))

    def _future_done(self, slot_id: int, future: Any) -> None:
        # Called in a thread of the Dask client: hand it to the driver's thread.
        self.done_futures.append(slot_id)
        self.wake()

    def accept(self, conn: Connection, hello: Any, blob: bytes) -> Slot | None:
        """A slot's task connected (see ``_dask_channel``): answer it, with the trainable
        if it asks. Returns a slot that was connected already, whose task Dask started
        again: the worker of the first copy was lost."""
        try:
            _, slot_id, _worker, _pid, wants_trainable = hello
        except (TypeError, ValueError):
            conn.close()
            return None
        slot = self.by_id.get(slot_id)
        if slot is None or slot.conn is not None:
            try:
                conn.send("REJECT")
            except OSError:
                pass
            conn.close()
            return slot
        try:
            conn.send("OK")
            if wants_trainable:  # the first trial of this experiment in that worker process
                started = time.monotonic()
                conn.send_bytes(blob)
                self.excuse_silence(time.monotonic() - started)
        except OSError:
            conn.close()
            return None
        slot.conn = conn
        slot.last_seen = time.monotonic()
        self.by_conn[conn] = slot
        return None

    def trial_ended(self, slot: Slot) -> None:
        """The slot's trial ended; the slot waits for the next trial of its shape."""
        if slot.trial is not None:
            self.by_trial.pop(slot.trial.trial_id, None)
            slot.trial = None
        slot.idle_since = time.monotonic()

    def end(self, slot: Slot) -> None:
        """Forget a slot and free its resources; its task ends (its trial, if any, too)."""
        if self.by_id.pop(slot.slot_id, None) is None:
            return
        if slot.trial is not None:
            self.by_trial.pop(slot.trial.trial_id, None)
        worker = self.cluster.workers.get(slot.worker)
        if worker is not None:
            worker.pool.give_back(slot.resources, slot.gpus)
        if slot.conn is not None:
            self.by_conn.pop(slot.conn, None)
            slot.conn.close()
        elif slot.future is not None and self.cluster.connected():
            try:
                slot.future.cancel()
            except Exception:  # noqa: BLE001 - the scheduler may be gone
                pass
        slot.future = None

    def excuse_silence(self, seconds: float) -> None:
        """Count ``seconds`` in which the driver read nothing as heard from every slot."""
        if seconds > 1.0:
            for slot in self.by_id.values():
                slot.last_seen += seconds
