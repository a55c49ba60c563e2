"""Trials on a Dask cluster, placed on workers by the trials' resources.

The driver decides where each trial runs, from the resources the workers declare
(``dask worker ... --resources "CPU=8,GPU=2"``), and submits a Dask task to that worker with
the same resources, so that Dask holds them for the trial's whole life. That task (a *slot*)
runs the trial in a trial process on that machine and streams its results to a listener in
the driver over one TCP connection; then it runs the next trial of the same shape, if the
driver has one (see ``_dask_channel`` and ``_dask_task``).

This module is the trial side: it starts trials in slots and turns what their connections
say into events. The cluster side (the scheduler, its workers, placement and the probe of
the workers) is ``_dask_cluster``; the table of slots is ``_dask_slots``.

A trial whose worker is lost (its process killed, its machine gone or silent, its
connection closed) ends with an :class:`ErrorEvent`; the controller then restarts it from
its latest checkpoint, on another worker, as long as ``max_failures`` allows.
"""

from __future__ import annotations

import os
import time
import traceback
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from typing import Any

from overtone._trial import Decision, Resources
from overtone.executors import _dask_channel as channel
from overtone.executors._base import DoneEvent, ErrorEvent, Event, Executor, ResultEvent
from overtone.executors._dask_cluster import (
    DEFAULT_PORT,
    DaskCluster,
    import_distributed,
    route_to,
)
from overtone.executors._dask_slots import Slot, SlotTable, TaskArgs
from overtone.executors._messages import NextTrial, Ping, TrialLost
from overtone.runtime._session import TrialInfo, pack_config

__all__ = ["DEFAULT_PORT", "DaskExecutor", "import_distributed"]

_BATCH = 1000  # messages read from one trial before looking at the others
_HOUSEKEEPING_S = 0.5
_IDLE_S = 1.0  # how long a slot waits for another trial of its shape before it ends


class DaskExecutor(Executor):
    """Trials on a Dask cluster, placed on workers by the resources they declare.

    Example::

        from overtone import tune
        from overtone.executors import DaskExecutor

        tune.run(train, config=space, num_samples=100, resources_per_trial={"gpu": 1},
                 executor=DaskExecutor("tcp://10.0.0.5:8786"))
        # the same: tune.RunConfig(executor="dask://10.0.0.5:8786")

    Args:
        address: the scheduler's address (``"tcp://host:8786"``) or a Dask cluster object
            (``LocalCluster``, ``KubeCluster``, ``SLURMCluster`` ...).
        client: an existing ``distributed.Client`` to use instead (it is left open).
        driver_host: the address of this machine that workers use to reach the driver
            (default: this machine's address on its route to the scheduler).
        driver_port: the port of the driver's listener (default: any free port).
        heartbeat_timeout: seconds without a word from a running trial's worker after which
            the trial is failed as lost (its machine gone or unreachable).
        grace_period: seconds a trial gets to report its next checkpoint when its worker
            shuts down (SIGTERM, preemption) before it moves to another worker.
        reconnect_timeout: how long the driver tries to reconnect to a lost scheduler before
            it fails the experiment (which can then be resumed).
        worker_timeout: how long to wait for a worker when there is none, or none that
            could start a trial while none of ours runs.
    """

    def __init__(
        self,
        address: str | Any = None,
        *,
        client: Any = None,
        driver_host: str | None = None,
        driver_port: int = 0,
        heartbeat_timeout: float = 30.0,
        grace_period: float = 5.0,
        reconnect_timeout: float = 60.0,
        worker_timeout: float = 60.0,
    ) -> None:
        import_distributed()
        if (address is None) == (client is None):
            raise ValueError(
                f"address is {address!r} and client is {client!r}, but exactly one of them "
                "must be given"
            )
        if isinstance(address, str) and "://" not in address:
            address = f"tcp://{address}"
        for name, value in (
            ("heartbeat_timeout", heartbeat_timeout),
            ("reconnect_timeout", reconnect_timeout),
            ("worker_timeout", worker_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name} is {value!r}, but must be > 0")
        if not grace_period >= 0:
            raise ValueError(f"grace_period is {grace_period!r}, but must be >= 0")
        if not 0 <= driver_port < 65536:
            raise ValueError(f"driver_port is {driver_port!r}, but must be in 0..65535")
        self.address = address
        self.driver_host = driver_host
        self.driver_port = driver_port
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.grace_period = float(grace_period)
        self.reconnect_timeout = float(reconnect_timeout)
        self.worker_timeout = float(worker_timeout)
        self._beat_s = min(1.0, self.heartbeat_timeout / 4)
        self._cluster = DaskCluster(
            address,
            client,
            self.reconnect_timeout,
            self.worker_timeout,
            suspect_s=max(10.0, self.heartbeat_timeout),
            in_use=lambda: self._slots.workers(),
        )
        self._token = os.urandom(4).hex()
        self._slots = SlotTable(self._cluster, self._token)
        self._held: list[Event] = []  # failures seen while the scheduler is unreachable
        self._listener: channel.Listener | None = None
        self._authkey = os.urandom(32)
        self._key = ""
        self._blob = b""
        self._probed = False
        self._lost_since: float | None = None
        self._housekept = 0.0
        self._left_wait = time.monotonic()  # when wait() last returned

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use (connected on first use)."""
        return self._cluster.client

    # -- Executor interface ---------------------------------------------------------------
    def setup(self, trainable_key: str, trainable_blob: bytes) -> None:
        from overtone.executors._dask_task import PreemptionPlugin

        client = self.client
        try:
            self._key, self._blob = trainable_key, trainable_blob
            client.register_plugin(PreemptionPlugin(), name=PreemptionPlugin.name)
            self._cluster.refresh(force=True)
            host = self.driver_host or route_to(client.scheduler.address)
            self._listener = channel.Listener(
                host, self.driver_port, self._authkey, security=client.security
            )
            self._slots.wake = self._listener.wake
            self._slots.task = TaskArgs(
                trainable_key,
                self._listener.address,
                self._authkey,
                self.grace_period,
                self.heartbeat_timeout,
            )
            self._probed = False
        except BaseException:
            self.shutdown()
            raise

    def total_resources(self) -> Resources:
        self.client  # noqa: B018 - connects on first use
        return self._cluster.total_resources()

    def can_start(self, resources: Resources) -> bool:
        cluster = self._cluster
        cluster.client  # noqa: B018
        if not cluster.connected():
            if self._slots.by_trial:
                return False
            cluster.await_scheduler()
        if self._slots.idle(resources) is not None:
            return True
        cluster.refresh()
        if cluster.place(resources) is not None:
            return True
        self._slots.release_idle()  # slots of other shapes give their resources back
        cluster.refresh(force=time.monotonic() - cluster.refreshed > 0.2)
        if cluster.place(resources) is not None or cluster.never_fits(resources):
            return True  # for one that never fits, start_trial explains why
        if self._slots.by_trial:
            return False
        # Nothing of ours runs, so nothing will free up: wait for the cluster to change.
        cluster.wait_for_room(resources)
        return True

    def start_trial(self, info: TrialInfo, resources: Resources) -> None:
        if not self._probed:
            assert self._listener is not None
            self._cluster.probe(info.experiment_path, self._listener.address, self._authkey)
            self._probed = True
        slot = self._slots.idle(resources)
        if slot is not None and slot.conn is not None:
            try:
                slot.conn.send(NextTrial(info))
            except OSError:
                pass  # wait() sees the closed connection and reports the trial lost
            slot.trial = info
            self._slots.by_trial[info.trial_id] = slot
            return
        placed = self._cluster.place(resources)
        if placed is None:
            if self._cluster.never_fits(resources):
                raise self._cluster.refuse(resources)
            raise RuntimeError(f"not enough free resources to start trial {info.trial_id}")
        # Dask would wrap this error in its own, after the slot took its resources.
        pack_config(info.config)  # raises ConfigNotSendableError, naming the key
        self._slots.open(info, resources, *placed)

    def send_decision(self, trial_id: str, decision: Decision) -> None:
        slot = self._slots.by_trial.get(trial_id)
        if slot is not None and slot.conn is not None:
            try:
                slot.conn.send(decision)
            except OSError:
                pass  # wait() notices the closed connection

    def kill_trial(self, trial_id: str) -> None:
        slot = self._slots.by_trial.get(trial_id)
        if slot is not None:
            self._slots.end(slot)

    def wait(self, timeout: float | None) -> list[Event]:
        if not self._slots.by_trial and not self._held:
            return []
        # While the controller was busy elsewhere nobody listened: that silence is ours.
        self._slots.excuse_silence(time.monotonic() - self._left_wait)
        events: list[Event] = []
        try:
            self._service(events, housekeeping=False)
            if not events:
                self._wait_for_events(timeout, events)
        finally:
            self._left_wait = time.monotonic()
        return events

    def shutdown(self) -> None:
        for slot in list(self._slots.by_id.values()):
            self._slots.end(slot)
        self._held.clear()
        if self._cluster.connected() and self._key:
            from overtone.executors._dask_task import forget

            self._cluster.run_on_workers(forget, self._key, timeout=5.0)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._cluster.close()
        self._lost_since = None

    def _lost(self, slot: Slot, why: str, events: list[Event]) -> None:
        """The slot is gone; its trial, if it had one, failed."""
        trial = slot.trial
        self._slots.end(slot)
        if trial is None:
            return
        text = f"RuntimeError: trial {trial.trial_id} was lost on Dask worker {slot.worker}: {why}"
        self._failed(ErrorEvent(trial.trial_id, text), events)

    def _move(self, slot: Slot, events: list[Event]) -> None:
        """Start a trial whose task never started, because its worker is going or gone,
        on another worker. It ran nothing, so this is no failure of the trial."""
        trial = slot.trial
        self._slots.end(slot)
        if trial is None:
            return
        placed = self._cluster.place(slot.resources)
        if placed is None:
            text = (
                f"RuntimeError: trial {trial.trial_id} could not start on Dask worker "
                f"{slot.worker}, which is leaving the cluster, and no other worker has "
                "room for it now"
            )
            self._failed(ErrorEvent(trial.trial_id, text), events)
            return
        self._slots.open(trial, slot.resources, *placed)

    def _failed(self, event: ErrorEvent, events: list[Event]) -> None:
        """Report a failure, or hold it while the scheduler is unreachable: when the
        scheduler goes, its workers follow, and their trials should not count that
        against ``max_failures`` if the experiment has to stop and be resumed."""
        if self._lost_since is not None or not self._cluster.connected():
            self._held.append(event)  # delivered if the scheduler comes back
        else:
            events.append(event)

    # -- events ---------------------------------------------------------------------------
    def _wait_for_events(self, timeout: float | None, events: list[Event]) -> None:
        assert self._listener is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while not events:
            left = (
                _HOUSEKEEPING_S
                if deadline is None
                else min(_HOUSEKEEPING_S, deadline - time.monotonic())
            )
            objs: list[Any] = [self._listener.wake_r, *self._slots.by_conn]
            for obj in wait_any(objs, max(0.0, left)):
                if obj is self._listener.wake_r:
                    try:
                        self._listener.wake_r.recv(4096)
                    except OSError:
                        pass
                elif isinstance(obj, Connection):
                    self._read(obj, events)
            self._service(events)
            if deadline is not None and time.monotonic() >= deadline:
                break

    def _read(self, conn: Connection, events: list[Event]) -> None:
        slot = self._slots.by_conn.get(conn)
        if slot is None:
            return
        try:
            for _ in range(_BATCH):
                msg = conn.recv()
                if isinstance(msg, ResultEvent):
                    events.append(msg)
                elif isinstance(msg, DoneEvent):
                    self._slots.trial_ended(slot)
                    events.append(msg)
                elif isinstance(msg, ErrorEvent):
                    self._slots.trial_ended(slot)
                    self._failed(msg, events)
                elif isinstance(msg, TrialLost):  # the trial failed and its slot ends with it
                    self._cluster.suspect(slot.worker)  # it is shutting down, or misconfigured
                    self._slots.end(slot)
                    self._failed(ErrorEvent(msg.trial_id, msg.error), events)
                    return
                if not conn.poll():
                    break
        except (EOFError, OSError):
            self._cluster.suspect(slot.worker)
            self._lost(
                slot,
                "the connection to its Dask task closed: the worker process "
                "died or was killed, or its machine went away",
                events,
            )
            return
        slot.last_seen = time.monotonic()

    def _service(self, events: list[Event], housekeeping: bool = True) -> None:
        """New connections, finished tasks and, every so often, health checks (only right
        after reading what the connections had, so that silence means silence)."""
        listener = self._listener
        while listener is not None and listener.incoming:
            conn, hello = listener.incoming.popleft()
            self._on_hello(conn, hello, events)
        while self._slots.done_futures:
            self._on_future_done(self._slots.done_futures.popleft(), events)
        now = time.monotonic()
        if housekeeping and now - self._housekept >= _HOUSEKEEPING_S:
            self._housekept = now
            self._check_scheduler(events)
            self._check_slots(events)

    def _on_hello(self, conn: Connection, hello: Any, events: list[Event]) -> None:
        restarted = self._slots.accept(conn, hello, self._blob)
        if restarted is not None:
            # Dask started the same task again: the worker of the first copy was lost.
            self._lost(restarted, f"Dask restarted its task on {hello[2]}", events)

    def _on_future_done(self, slot_id: int, events: list[Event]) -> None:
        slot = self._slots.by_id.get(slot_id)
        if slot is None or slot.future is None:
            return
        future = slot.future
        status = future.status
        if status == "error":
            try:
                exc = future.exception(timeout=5)
                text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            except Exception as err:  # noqa: BLE001 - describe what we can
                text = f"{type(err).__name__}: {err}"
            self._lost(slot, f"its Dask task failed:\n{text}", events)
        elif slot.conn is not None:
            return  # the connection tells how the trial ends
        elif status == "finished":
            self._lost(slot, "its Dask task ended without running it", events)
        elif not self._cluster.connected() or self._lost_since is not None:
            slot.resubmit = True  # the scheduler forgot it: submit it again when back
        else:
            self._lost(slot, f"its Dask task was {status} before it started", events)

    def _check_scheduler(self, events: list[Event]) -> None:
        cluster = self._cluster
        if cluster.connected():
            if self._lost_since is not None:
                self._lost_since = None
                events.extend(self._held)
                self._held.clear()
                cluster.refresh(force=True)
                for slot in list(self._slots.by_id.values()):
                    if slot.resubmit and slot.conn is None:
                        slot.resubmit = False
                        self._slots.submit(slot)
            return
        if self._lost_since is None:
            self._lost_since = time.monotonic()
        if cluster.lost_for_good(self._lost_since):
            cluster.fail_lost_scheduler()

    def _check_slots(self, events: list[Event]) -> None:
        if not self._slots.by_id or self._lost_since is not None:
            return
        cluster = self._cluster
        cluster.refresh()
        now = time.monotonic()
        for slot in list(self._slots.by_id.values()):
            worker = cluster.workers.get(slot.worker)
            if slot.conn is None and (worker is None or not worker.usable()):
                self._move(slot, events)  # it never started there: try elsewhere
            elif slot.worker not in cluster.listed:
                self._lost(slot, "the worker left the cluster", events)
            elif slot.conn is not None and now - slot.last_seen > self.heartbeat_timeout:
                cluster.suspect(slot.worker)
                self._lost(
                    slot,
                    f"no word from the worker for {self.heartbeat_timeout:g} s: "
                    "its machine is gone or unreachable",
                    events,
                )
            elif slot.trial is None and now - slot.idle_since > _IDLE_S:
                self._slots.end(slot)  # give its resources back to the cluster
            elif slot.conn is not None and now - slot.pinged >= self._beat_s:
                slot.pinged = now
                try:
                    slot.conn.send(Ping())
                except OSError:
                    pass  # wait() notices the closed connection
