"""Trials on a Dask cluster, placed on workers by the trials' resources.

The driver decides where each trial runs, from the resources the workers declare
(``dask worker ... --resources "CPU=8,GPU=2"``), and submits a Dask task to that worker with
the same resources, so that Dask holds them for the trial's whole life. That task (a *slot*)
runs the trial in a trial process on that machine and streams its results to a listener in
the driver over one TCP connection; then it runs the next trial of the same shape, if the
driver has one (see ``_dask_channel`` and ``_dask_task``).

A trial whose worker is lost (its process killed, its machine gone or silent, its
connection closed) ends with an :class:`ErrorEvent`; the controller then restarts it from
its latest checkpoint, on another worker, as long as ``max_failures`` allows.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from typing import Any

from overtone._errors import TuneError
from overtone._trial import Resources
from overtone.executors import _dask_channel as channel
from overtone.executors._base import DoneEvent, ErrorEvent, Event, Executor, ResultEvent
from overtone.runtime._session import TrialInfo

_EPS = 1e-9
_BATCH = 1000  # messages read from one trial before looking at the others
_HOUSEKEEPING_S = 0.5
_REFRESH_S = 2.0  # how often the list of workers is fetched while trials run
_IDLE_S = 1.0  # how long a slot waits for another trial of its shape before it ends
_PROBE_MARKER = ".overtone-dask-probe"
DEFAULT_PORT = 8786


def import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "DaskExecutor needs dask.distributed: pip install 'overtone[dask]'"
        ) from exc
    return distributed


@dataclass
class _Worker:
    """The driver's view of one Dask worker: what it declares and what our trials hold."""

    address: str
    names: dict[str, str]  # lower-case resource name -> the worker's own spelling
    total: dict[str, float]  # "cpu", "gpu" and custom resources, lower-case
    threads: int
    free: dict[str, float] = field(default_factory=dict)
    gpu_free: list[float] = field(default_factory=list)
    threads_free: int = 0
    status: str = "running"  # as the scheduler last said; trials start only on "running"
    suspect_until: float = 0.0  # a trial here was lost: start no trials here until then

    @classmethod
    def from_info(cls, address: str, info: dict[str, Any]) -> _Worker:
        declared = {str(k): float(v) for k, v in (info.get("resources") or {}).items()}
        names = {k.lower(): k for k in declared}
        total = {k.lower(): v for k, v in declared.items()}
        threads = int(info.get("nthreads") or 1)
        total.setdefault("cpu", float(threads))  # undeclared: one CPU per thread
        total.setdefault("gpu", 0.0)
        worker = cls(address, names, total, threads)
        worker.free = dict(total)
        worker.gpu_free = [1.0] * int(total["gpu"])
        worker.threads_free = threads
        return worker

    def usable(self) -> bool:
        return self.status == "running" and time.monotonic() >= self.suspect_until

    def could_ever_fit(self, res: Resources) -> bool:
        return (
            res.cpu <= self.total["cpu"] + _EPS
            and res.gpu <= self.total["gpu"] + _EPS
            and all(v <= self.total.get(k, 0.0) + _EPS for k, v in res.custom.items())
        )

    def fit(self, res: Resources) -> tuple[int, ...] | None:
        """The GPU slots a trial would get here, or None if it does not fit now."""
        if self.threads_free < 1 or res.cpu > self.free["cpu"] + _EPS:
            return None
        if any(v > self.free.get(k, 0.0) + _EPS for k, v in res.custom.items()):
            return None
        if res.gpu <= 0:
            return ()
        if res.gpu < 1:  # a fraction: share the fullest device that still has room
            fits = [g for g, f in enumerate(self.gpu_free) if f + _EPS >= res.gpu]
            return (min(fits, key=lambda g: self.gpu_free[g]),) if fits else None
        whole = [g for g, f in enumerate(self.gpu_free) if f >= 1 - _EPS]
        return tuple(whole[: int(res.gpu)]) if len(whole) >= res.gpu else None

    def hold(self, res: Resources, gpus: tuple[int, ...], sign: float) -> None:
        self.threads_free -= int(sign)
        self.free["cpu"] -= sign * res.cpu
        for k, v in res.custom.items():
            self.free[k] = self.free.get(k, 0.0) - sign * v
        share = res.gpu if res.gpu < 1 else 1.0
        for g in gpus:
            self.gpu_free[g] -= sign * share
        self.free["gpu"] = sum(self.gpu_free)

    def dask_resources(self, res: Resources) -> dict[str, float] | None:
        """The trial's resources in the worker's own names, for those it declares."""
        asked = {"cpu": res.cpu, "gpu": res.gpu, **res.custom}
        out = {self.names[k]: v for k, v in asked.items() if v > 0 and k in self.names}
        return out or None

    def describe(self) -> str:
        parts = [f"CPU={self.total['cpu']:g}", f"GPU={self.total['gpu']:g}"]
        parts += [f"{k}={v:g}" for k, v in self.total.items() if k not in ("cpu", "gpu")]
        return ",".join(parts)


@dataclass
class _Slot:
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
        self._given_client = client
        self._client: Any = client
        self._workers: dict[str, _Worker] = {}
        self._listed: set[str] = set()  # every worker the scheduler listed, in any status
        self._refreshed = 0.0
        self._ready = False  # the list of workers was fetched since we connected
        self._slots: dict[int, _Slot] = {}
        self._by_trial: dict[str, _Slot] = {}
        self._by_conn: dict[Connection, _Slot] = {}
        self._done_futures: deque[int] = deque()
        self._held: list[Event] = []  # failures seen while the scheduler is unreachable
        self._listener: channel.Listener | None = None
        self._authkey = os.urandom(32)
        self._token = os.urandom(4).hex()
        self._key = ""
        self._blob = b""
        self._probed = False
        self._next_slot = 0
        self._lost_since: float | None = None
        self._housekept = 0.0
        self._left_wait = time.monotonic()  # when wait() last returned
        self._experiment_path = ""

    # -- connection -----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use (connected on first use)."""
        if self._client is None:
            distributed = import_distributed()
            try:
                self._client = distributed.Client(
                    self.address, timeout=self.reconnect_timeout, set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                raise TuneError(
                    f"cannot connect to the Dask scheduler at {self._address_text()}: {exc}"
                ) from exc
        if not self._ready:
            self._wait_for_workers()
            self._ready = True
        return self._client

    def _address_text(self) -> str:
        if isinstance(self.address, str):
            return self.address
        if self._client is not None:
            return str(self._client.scheduler.address)
        return str(getattr(self.address, "scheduler_address", self.address))

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + self.worker_timeout
        while True:
            self._refresh(force=True)
            if any(w.status == "running" for w in self._workers.values()):
                return
            if time.monotonic() >= deadline:
                raise TuneError(
                    f"no Dask worker joined the scheduler at {self._address_text()} within "
                    f"{self.worker_timeout:g} s: start workers with "
                    f'`dask worker {self._address_text()} --resources "CPU=..."`'
                )
            time.sleep(0.2)

    def _connected(self) -> bool:
        return self._client is not None and self._client.status == "running"

    def _refresh(self, force: bool = False) -> None:
        """Fetch the list of workers (at most every few seconds unless forced)."""
        now = time.monotonic()
        if not force and now - self._refreshed < _REFRESH_S:
            return
        if not self._connected():
            return
        try:
            try:
                info = self._client.scheduler_info(n_workers=-1)
            except TypeError:  # distributed before n_workers= listed them all anyway
                info = self._client.scheduler_info()
        except (OSError, TimeoutError):
            return
        self._refreshed = now
        listed = info.get("workers", {})
        for addr in list(self._workers):
            if addr not in listed and not any(s.worker == addr for s in self._slots.values()):
                del self._workers[addr]
        for addr, w in listed.items():
            if addr not in self._workers:
                self._workers[addr] = _Worker.from_info(addr, w)
            self._workers[addr].status = str(w.get("status", "running"))
        self._listed = set(listed)

    # -- Executor interface ---------------------------------------------------------------
    def setup(self, trainable_key: str, trainable_blob: bytes) -> None:
        from overtone.executors._dask_task import PreemptionPlugin, prestart

        client = self.client
        try:
            self._key, self._blob = trainable_key, trainable_blob
            client.register_plugin(PreemptionPlugin(), name=PreemptionPlugin.name)
            self._refresh(force=True)
            self._run_on_workers(prestart, timeout=10.0)
            host = self.driver_host or _route_to(client.scheduler.address)
            self._listener = channel.Listener(
                host, self.driver_port, self._authkey, security=client.security
            )
            self._probed = False
        except BaseException:
            self.shutdown()
            raise

    def total_resources(self) -> Resources:
        self.client  # noqa: B018 - connects on first use
        total: dict[str, float] = {}
        for w in self._workers.values():
            for k, v in w.total.items():
                total[k] = total.get(k, 0.0) + v
        cpu, gpu = total.pop("cpu", 0.0), total.pop("gpu", 0.0)
        return Resources(cpu=cpu, gpu=gpu, custom=total)

    def can_start(self, resources: Resources) -> bool:
        self.client  # noqa: B018
        if not self._connected():
            if self._by_trial:
                return False
            self._await_scheduler()
        if self._idle_slot(resources) is not None:
            return True
        self._refresh()
        if self._place(resources) is not None:
            return True
        self._release_idle()  # slots of other shapes give their resources back
        self._refresh(force=time.monotonic() - self._refreshed > 0.2)
        if self._place(resources) is not None:
            return True
        if self._workers and not any(w.could_ever_fit(resources) for w in self._workers.values()):
            return True  # start_trial explains why it never will
        if self._by_trial:
            return False
        # Nothing of ours runs, so nothing will free up: wait for the cluster to change.
        deadline = time.monotonic() + self.worker_timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            self._refresh(force=True)
            if self._place(resources) is not None:
                return True
        raise TuneError(
            f"no Dask worker could start a trial asking for {resources.to_dict()} for "
            f"{self.worker_timeout:g} s; the workers of {self._address_text()} are: "
            + self._describe_workers()
        )

    def start_trial(self, info: TrialInfo, resources: Resources) -> None:
        if not self._probed:
            self._probe(info.experiment_path)
        slot = self._idle_slot(resources)
        if slot is not None and slot.conn is not None:
            try:
                slot.conn.send(("run", info))
            except OSError:
                pass  # wait() sees the closed connection and reports the trial lost
            slot.trial = info
            self._by_trial[info.trial_id] = slot
            return
        placed = self._place(resources)
        if placed is None:
            if self._workers and not any(
                w.could_ever_fit(resources) for w in self._workers.values()
            ):
                raise ValueError(
                    f"a trial asks for {resources.to_dict()}, but no worker of the Dask "
                    f"cluster at {self._address_text()} has that much; its workers are: "
                    f"{self._describe_workers()}. Start workers with more, e.g. "
                    '`dask worker ADDRESS --resources "CPU=8,GPU=2"`, or ask for less'
                )
            raise RuntimeError(f"not enough free resources to start trial {info.trial_id}")
        self._open_slot(info, resources, *placed)

    def _open_slot(
        self, info: TrialInfo, resources: Resources, worker: _Worker, gpus: tuple[int, ...]
    ) -> None:
        worker.hold(resources, gpus, +1)
        self._next_slot += 1
        slot = _Slot(self._next_slot, worker.address, resources, gpus, info)
        self._slots[slot.slot_id] = slot
        self._by_trial[info.trial_id] = slot
        self._submit(slot)

    def send_decision(self, trial_id: str, decision: str) -> None:
        slot = self._by_trial.get(trial_id)
        if slot is not None and slot.conn is not None:
            try:
                slot.conn.send(decision)
            except OSError:
                pass  # wait() notices the closed connection

    def kill_trial(self, trial_id: str) -> None:
        slot = self._by_trial.get(trial_id)
        if slot is not None:
            self._end_slot(slot)

    def wait(self, timeout: float | None) -> list[Event]:
        if not self._by_trial and not self._held:
            return []
        # While the controller was busy elsewhere nobody listened: that silence is ours.
        self._excuse_silence(time.monotonic() - self._left_wait)
        events: list[Event] = []
        try:
            self._service(events, housekeeping=False)
            if not events:
                self._wait_for_events(timeout, events)
        finally:
            self._left_wait = time.monotonic()
        return events

    def _wait_for_events(self, timeout: float | None, events: list[Event]) -> None:
        assert self._listener is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while not events:
            left = (
                _HOUSEKEEPING_S
                if deadline is None
                else min(_HOUSEKEEPING_S, deadline - time.monotonic())
            )
            objs: list[Any] = [self._listener.wake_r, *self._by_conn]
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

    def _excuse_silence(self, seconds: float) -> None:
        """Count ``seconds`` in which the driver read nothing as heard from every slot."""
        if seconds > 1.0:
            for slot in self._slots.values():
                slot.last_seen += seconds

    def shutdown(self) -> None:
        for slot in list(self._slots.values()):
            self._end_slot(slot)
        self._held.clear()
        client = self._client
        if client is not None and self._connected():
            from overtone.executors._dask_task import forget

            if self._key:
                self._run_on_workers(forget, self._key, timeout=5.0)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if client is not None and self._given_client is None:
            try:
                client.close(timeout=5)
            except Exception:  # noqa: BLE001 - the scheduler may be gone
                pass
            self._client = None
        self._workers.clear()
        self._ready = False
        self._lost_since = None

    # -- placement ------------------------------------------------------------------------
    def _idle_slot(self, resources: Resources) -> _Slot | None:
        for slot in self._slots.values():
            if slot.trial is None and slot.conn is not None and slot.resources == resources:
                worker = self._workers.get(slot.worker)
                if worker is not None and worker.usable():
                    return slot
        return None

    def _release_idle(self) -> None:
        for slot in list(self._slots.values()):
            if slot.trial is None:
                self._end_slot(slot)

    def _place(self, resources: Resources) -> tuple[_Worker, tuple[int, ...]] | None:
        best: tuple[tuple[float, float, str], _Worker, tuple[int, ...]] | None = None
        for worker in self._workers.values():
            if not worker.usable():
                continue
            gpus = worker.fit(resources)
            if gpus is None:
                continue
            # Best fit: the worker left with the least room, so big trials find room too.
            rank = (worker.free["cpu"] - resources.cpu, worker.free["gpu"], worker.address)
            if best is None or rank < best[0]:
                best = (rank, worker, gpus)
        return None if best is None else (best[1], best[2])

    def _describe_workers(self) -> str:
        if not self._workers:
            return "none"
        counts: dict[str, int] = {}
        for w in self._workers.values():
            counts[w.describe()] = counts.get(w.describe(), 0) + 1
        return "; ".join(f"{n} x {d}" for d, n in counts.items())

    def _submit(self, slot: _Slot) -> None:
        from overtone.executors._dask_task import run_slot_task

        assert slot.trial is not None and self._listener is not None
        worker = self._workers[slot.worker]
        slot.future = self._client.submit(
            run_slot_task,
            slot.slot_id,
            self._key,
            self._listener.address,
            self._authkey,
            slot.trial,
            slot.gpus,
            self.grace_period,
            self.heartbeat_timeout,
            key=f"overtone-slot-{slot.slot_id}-{self._token}",
            workers=[slot.worker],
            allow_other_workers=False,
            resources=worker.dask_resources(slot.resources),
            pure=False,
            retries=0,
        )
        slot.future.add_done_callback(functools.partial(self._future_done, slot.slot_id))

    def _future_done(self, slot_id: int, future: Any) -> None:
        # Called in a thread of the Dask client: hand it to the driver's thread.
        self._done_futures.append(slot_id)
        if self._listener is not None:
            self._listener.wake()

    def _probe(self, experiment_path: str) -> None:
        """Before any trial: can every worker reach the storage path and the driver?"""
        from overtone.executors._dask_task import probe

        assert self._listener is not None
        self._experiment_path = experiment_path
        token = os.urandom(8).hex()
        marker = os.path.join(experiment_path, _PROBE_MARKER)
        with open(marker, "w", encoding="utf-8") as f:
            f.write(token)
        try:
            answers = self._run_on_workers(
                probe,
                experiment_path,
                _PROBE_MARKER,
                token,
                self._listener.address,
                self._authkey,
                timeout=60.0,
            )
        finally:
            os.remove(marker)
        problems = []
        for addr, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                problems.append(f"worker {addr} could not run the check: {answer!r}")
            else:
                problems.extend(answer)
        storage = [p for p in problems if "storage path" in p]
        if storage:
            raise ValueError(
                f"storage_path: the experiment directory {experiment_path} is a local path "
                "that the Dask workers cannot reach: " + "; ".join(storage)
            )
        if problems:
            raise TuneError("the Dask workers cannot run trials: " + "; ".join(problems))
        self._probed = True

    def _run_on_workers(self, fn: Any, *args: Any, timeout: float) -> dict[str, Any]:
        """``client.run`` on the usable workers, giving up on it after ``timeout`` (a
        worker cut off from the network would otherwise hold the driver for minutes)."""
        workers = [w.address for w in self._workers.values() if w.usable()]
        answers: dict[str, Any] = {}

        def call() -> None:
            try:
                answers.update(self._client.run(fn, *args, workers=workers, on_error="return"))
            except Exception as exc:  # noqa: BLE001 - reported per worker below
                answers.update({w: exc for w in workers})

        thread = threading.Thread(target=call, name="overtone-dask-run", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            return {w: TimeoutError(f"no answer within {timeout:g} s") for w in workers}
        return dict(answers)

    # -- events ---------------------------------------------------------------------------
    def _read(self, conn: Connection, events: list[Event]) -> None:
        slot = self._by_conn.get(conn)
        if slot is None:
            return
        try:
            for _ in range(_BATCH):
                msg = conn.recv()
                kind = msg[0]
                if kind == "result":
                    events.append(ResultEvent(msg[1], msg[2], msg[3]))
                elif kind == "done":
                    self._trial_ended(slot)
                    events.append(DoneEvent(msg[1]))
                elif kind == "error":
                    self._trial_ended(slot)
                    self._failed(ErrorEvent(msg[1], msg[2]), events)
                elif kind == "lost":  # the trial failed and its slot ends with it
                    self._suspect(slot.worker)  # it is shutting down, or misconfigured
                    self._end_slot(slot)
                    self._failed(ErrorEvent(msg[1], msg[2]), events)
                    return
                if not conn.poll():
                    break
        except (EOFError, OSError):
            self._suspect(slot.worker)
            self._lost(
                slot,
                "the connection to its Dask task closed: the worker process "
                "died or was killed, or its machine went away",
                events,
            )
            return
        slot.last_seen = time.monotonic()

    def _trial_ended(self, slot: _Slot) -> None:
        """The slot's trial ended; the slot waits for the next trial of its shape."""
        if slot.trial is not None:
            self._by_trial.pop(slot.trial.trial_id, None)
            slot.trial = None
        slot.idle_since = time.monotonic()

    def _end_slot(self, slot: _Slot) -> None:
        """Forget a slot and free its resources; its task ends (its trial, if any, too)."""
        if self._slots.pop(slot.slot_id, None) is None:
            return
        if slot.trial is not None:
            self._by_trial.pop(slot.trial.trial_id, None)
        worker = self._workers.get(slot.worker)
        if worker is not None:
            worker.hold(slot.resources, slot.gpus, -1)
        if slot.conn is not None:
            self._by_conn.pop(slot.conn, None)
            slot.conn.close()
        elif slot.future is not None and self._connected():
            try:
                slot.future.cancel()
            except Exception:  # noqa: BLE001 - the scheduler may be gone
                pass
        slot.future = None

    def _lost(self, slot: _Slot, why: str, events: list[Event]) -> None:
        """The slot is gone; its trial, if it had one, failed."""
        trial = slot.trial
        self._end_slot(slot)
        if trial is None:
            return
        self._failed(
            ErrorEvent(
                trial.trial_id,
                f"RuntimeError: trial {trial.trial_id} was "
                f"lost on Dask worker {slot.worker}: {why}",
            ),
            events,
        )

    def _move(self, slot: _Slot, events: list[Event]) -> None:
        """Start a trial whose task never started, because its worker is going or gone,
        on another worker. It ran nothing, so this is no failure of the trial."""
        trial = slot.trial
        self._end_slot(slot)
        if trial is None:
            return
        placed = self._place(slot.resources)
        if placed is None:
            self._failed(
                ErrorEvent(
                    trial.trial_id,
                    f"RuntimeError: trial {trial.trial_id} could not start on Dask worker "
                    f"{slot.worker}, which is leaving the cluster, and no other worker has "
                    "room for it now",
                ),
                events,
            )
            return
        self._open_slot(trial, slot.resources, *placed)

    def _suspect(self, address: str) -> None:
        """Start no trial on a worker that just lost one, until the scheduler has had time
        to notice whether it is gone."""
        worker = self._workers.get(address)
        if worker is not None:
            worker.suspect_until = time.monotonic() + max(10.0, self.heartbeat_timeout)
        self._refreshed = 0.0  # look again at the list of workers soon

    def _failed(self, event: ErrorEvent, events: list[Event]) -> None:
        """Report a failure, or hold it while the scheduler is unreachable: when the
        scheduler goes, its workers follow, and their trials should not count that
        against ``max_failures`` if the experiment has to stop and be resumed."""
        if self._lost_since is not None or not self._connected():
            self._held.append(event)  # delivered if the scheduler comes back
        else:
            events.append(event)

    def _service(self, events: list[Event], housekeeping: bool = True) -> None:
        """New connections, finished tasks and, every so often, health checks (only right
        after reading what the connections had, so that silence means silence)."""
        listener = self._listener
        while listener is not None and listener.incoming:
            conn, hello = listener.incoming.popleft()
            self._on_hello(conn, hello, events)
        while self._done_futures:
            self._on_future_done(self._done_futures.popleft(), events)
        now = time.monotonic()
        if housekeeping and now - self._housekept >= _HOUSEKEEPING_S:
            self._housekept = now
            self._check_scheduler(events)
            self._check_slots(events)

    def _on_hello(self, conn: Connection, hello: Any, events: list[Event]) -> None:
        try:
            _, slot_id, worker, _pid, wants_trainable = hello
        except (TypeError, ValueError):
            conn.close()
            return
        slot = self._slots.get(slot_id)
        if slot is None or slot.conn is not None:
            if slot is not None:
                # Dask started the same task again: the worker of the first copy was lost.
                self._lost(slot, f"Dask restarted its task on {worker}", events)
            try:
                conn.send("REJECT")
            except OSError:
                pass
            conn.close()
            return
        try:
            conn.send("OK")
            if wants_trainable:  # the first trial of this experiment in that worker process
                started = time.monotonic()
                conn.send_bytes(self._blob)
                self._excuse_silence(time.monotonic() - started)
        except OSError:
            conn.close()
            return
        slot.conn = conn
        slot.last_seen = time.monotonic()
        self._by_conn[conn] = slot

    def _on_future_done(self, slot_id: int, events: list[Event]) -> None:
        slot = self._slots.get(slot_id)
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
        elif not self._connected() or self._lost_since is not None:
            slot.resubmit = True  # the scheduler forgot it: submit it again when back
        else:
            self._lost(slot, f"its Dask task was {status} before it started", events)

    def _check_scheduler(self, events: list[Event]) -> None:
        now = time.monotonic()
        if self._connected():
            if self._lost_since is not None:
                self._lost_since = None
                events.extend(self._held)
                self._held.clear()
                self._refresh(force=True)
                for slot in list(self._slots.values()):
                    if slot.resubmit and slot.conn is None:
                        slot.resubmit = False
                        self._submit(slot)
            return
        if self._lost_since is None:
            self._lost_since = now
        status = self._client.status if self._client is not None else "closed"
        if status in ("closed", "closing") or now - self._lost_since > self.reconnect_timeout:
            self._fail_lost_scheduler()

    def _await_scheduler(self) -> None:
        deadline = time.monotonic() + self.reconnect_timeout
        while not self._connected():
            status = self._client.status if self._client is not None else "closed"
            if status in ("closed", "closing") or time.monotonic() >= deadline:
                self._fail_lost_scheduler()
            time.sleep(0.1)

    def _fail_lost_scheduler(self) -> None:
        where = self._experiment_path or "the experiment's directory"
        raise TuneError(
            f"lost the connection to the Dask scheduler at {self._address_text()} and could "
            f"not reconnect within {self.reconnect_timeout:g} s. Every result so far is saved "
            f"in {where}: once the cluster is back, resume the experiment (tune.run(..., "
            "resume=True) or tune.Tuner.restore(path)); its trials restart from their latest "
            "checkpoints"
        )

    def _check_slots(self, events: list[Event]) -> None:
        if not self._slots or self._lost_since is not None:
            return
        self._refresh()
        now = time.monotonic()
        for slot in list(self._slots.values()):
            worker = self._workers.get(slot.worker)
            if slot.conn is None and (worker is None or not worker.usable()):
                self._move(slot, events)  # it never started there: try elsewhere
            elif slot.worker not in self._listed:
                self._lost(slot, "the worker left the cluster", events)
            elif slot.conn is not None and now - slot.last_seen > self.heartbeat_timeout:
                self._suspect(slot.worker)
                self._lost(
                    slot,
                    f"no word from the worker for {self.heartbeat_timeout:g} s: "
                    "its machine is gone or unreachable",
                    events,
                )
            elif slot.trial is None and now - slot.idle_since > _IDLE_S:
                self._end_slot(slot)  # give its resources back to the cluster
            elif slot.conn is not None and now - slot.pinged >= self._beat_s:
                slot.pinged = now
                try:
                    slot.conn.send("PING")
                except OSError:
                    pass  # wait() notices the closed connection


def _route_to(address: str) -> str:
    """This machine's address on its route to ``address`` (a Dask address)."""
    from distributed.comm import get_address_host

    try:
        host = get_address_host(address)
    except ValueError:
        host = ""
    if not host or address.startswith("inproc://"):
        return "127.0.0.1"
    info = socket.getaddrinfo(host, DEFAULT_PORT, type=socket.SOCK_DGRAM)[0]
    with socket.socket(info[0], socket.SOCK_DGRAM) as s:
        try:
            s.connect(info[4])
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"
