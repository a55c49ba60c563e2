"""What runs inside a Dask worker process: the tasks that relay for trial processes.

A trial's task (a *slot*) holds the trial's resources on its worker for the trial's whole
life (and, when the driver has another trial of the same shape, for that one's too). It does
not run the trial's code in its own thread: Dask runs several tasks as threads of one
process, while a trial needs its own process (its own ``CUDA_VISIBLE_DEVICES``, its own
stdout, and a crash that ends only itself). So the task hands the trial to a *trial process*
on the same machine (kept for the next trial, as the local executor keeps its workers) and
relays messages between it and the driver (see ``_dask_channel``).

The pickled trainable is fetched from the driver once per Dask worker process, over the
first task's connection, and sent once to each trial process.

When the worker is asked to shut down (SIGTERM to ``dask worker``, or the cluster retiring
it), :class:`PreemptionPlugin` holds the shutdown while running trials get a grace period:
each trial runs on until it reports its next checkpoint, then stops and is reported to the
driver as failed, which restarts it from that checkpoint on another worker.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from distributed import WorkerPlugin, get_worker
from distributed.comm import get_address_host

from overtone.executors import _dask_channel as channel
from overtone.executors._forkserver import ForkServer, choose_start_method
from overtone.executors._messages import (
    Beat,
    DoneEvent,
    ErrorEvent,
    Exit,
    LoadTrainable,
    NextTrial,
    Ping,
    RunTrial,
    TrialLost,
)
from overtone.executors._process import ChildProcess, child_env
from overtone.runtime._session import TrialInfo

_CONNECT_TIMEOUT_S = 30.0
_FETCH_TIMEOUT_S = 300.0
_BATCH = 256  # messages relayed from one trial process before looking at the driver again

_lock = threading.Lock()
_forks: ForkServer | None = None  # forks trial processes (``_fork_server()``)
_no_forks = False  # this worker starts them as new interpreters
_blobs: dict[str, bytes] = {}  # trainable key -> pickled trainable, per worker process
_fetching: dict[str, threading.Event] = {}  # set when the task fetching the key is done
_idle: list[_TrialProcess] = []  # trial processes waiting for their next trial
_active: dict[int, float] = {}  # running relays (by id) -> their grace period in seconds
_preempt = threading.Event()
_stats = {"fetches": 0, "spawned": 0}


class _TrialProcess(ChildProcess):
    """A process that runs trials one after another (the local worker protocol); it exits
    when its life pipe, whose write end only this Dask worker process holds, closes."""

    def __init__(self, cuda: str) -> None:
        env = child_env(dict(os.environ), cuda)
        super().__init__(
            "overtone.executors._dask_channel", env, "the trial process", _fork_server()
        )
        self.cuda = cuda
        self.loaded: set[str] = set()
        _stats["spawned"] += 1


def _fork_server() -> ForkServer | None:
    """This Dask worker's fork server, started on first use and kept for the worker's life
    (experiments on one cluster may overlap); ``None`` where trial processes must start as
    new interpreters (see ``choose_start_method``)."""
    global _forks, _no_forks
    with _lock:
        if _forks is not None and _forks.alive():
            return _forks
        if _no_forks or choose_start_method("auto")[0] == "spawn":
            _no_forks = True
            return None
        try:
            _forks = ForkServer(
                channel.forked_main, close_fds=True, preload=("overtone.executors._worker",)
            )
        except OSError:
            _no_forks = True
            return None
        return _forks


def _checkout(cuda: str) -> _TrialProcess:
    with _lock:
        for i, proc in enumerate(_idle):
            if proc.cuda == cuda and proc.alive():
                del _idle[i]
                return proc
    return _TrialProcess(cuda)


def _checkin(proc: _TrialProcess, limit: int) -> None:
    """Keep a trial process for the next trial (at most ``limit`` idle ones)."""
    if not proc.alive():
        proc.kill()  # reap it
        return
    with _lock:
        _idle.append(proc)
        surplus = _idle[:-limit] if len(_idle) > limit else []
        del _idle[: len(surplus)]
    for old in surplus:
        old.kill()


def _threads(worker: Any) -> int:
    state = getattr(worker, "state", worker)  # the thread count moved to worker.state
    return max(1, int(getattr(state, "nthreads", 1) or 1))


def physical_gpus(slots: tuple[int, ...]) -> str:
    """The devices of a worker's GPU slots: slot i is the i-th device the worker sees."""
    if not slots:
        return ""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return ",".join(map(str, slots))
    devices = [d.strip() for d in visible.split(",") if d.strip()]
    if max(slots) >= len(devices):
        raise ValueError(
            f"the trial was given GPU slot {max(slots)} of this worker, but the worker sees "
            f"only {len(devices)} device(s) (CUDA_VISIBLE_DEVICES={visible!r}): declare at "
            "most as many GPUs in --resources as the worker can see"
        )
    return ",".join(devices[s] for s in slots)


def _cached_blob(key: str) -> tuple[bytes | None, threading.Event | None]:
    """The trainable if this process has it; else whether this task must fetch it (an
    event to set when done) or wait for another task that is fetching it."""
    deadline = time.monotonic() + _FETCH_TIMEOUT_S
    while True:
        with _lock:
            blob = _blobs.get(key)
            if blob is not None:
                return blob, None
            fetching = _fetching.get(key)
            if fetching is None:
                _fetching[key] = threading.Event()
                return None, _fetching[key]
        if not fetching.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"the trainable {key} did not arrive in {_FETCH_TIMEOUT_S} s")


class _Link:
    """The task's connection to the driver, with heartbeats.

    The task says something at least every ``beat_s``, so that the driver notices a
    machine that went silent. The other way, a task must notice when it is cut off from
    the driver (within half the driver's own limit, so that it gives up first) and end its
    trial: a trial cut off from its driver must not go on writing checkpoints next to its
    own restarted copy. On Linux the connection itself fails when the task's beats stay
    unacknowledged (``TCP_USER_TIMEOUT``), which a busy driver never causes. Elsewhere the
    driver pings too, and ``silence_s`` without a ping ends the link.
    """

    def __init__(self, conn: Connection, beat_s: float, silence_s: float | None) -> None:
        self.conn = conn
        self.beat_s = beat_s
        self.silence_s = silence_s
        self.last_sent = self.last_heard = time.monotonic()

    def send(self, msg: Any) -> bool:
        try:
            self.conn.send(msg)
        except OSError:
            return False
        self.last_sent = time.monotonic()
        return True

    def send_bytes(self, data: bytes) -> bool:
        try:
            self.conn.send_bytes(data)
        except OSError:
            return False
        self.last_sent = time.monotonic()
        return True

    def recv(self) -> Any:
        """The driver's next message, skipping pings; None at end of file."""
        try:
            msg = self.conn.recv()
        except (EOFError, OSError):
            return None
        self.last_heard = time.monotonic()
        return msg

    def next_beat(self, now: float) -> float:
        """Seconds until a beat is due (or until silence ends the link)."""
        due = self.beat_s - (now - self.last_sent)
        if self.silence_s is not None:
            due = min(due, self.silence_s - (now - self.last_heard))
        return max(0.0, due)

    def keep_alive(self, now: float) -> bool:
        """Beat if due; False if the link is dead (silence, or a failed send)."""
        if self.silence_s is not None and now - self.last_heard > self.silence_s:
            return False
        return now - self.last_sent < self.beat_s or self.send(Beat())


def run_slot_task(
    slot_id: int,
    key: str,
    driver: str,
    authkey: bytes,
    info: TrialInfo,
    gpu_slots: tuple[int, ...],
    grace_s: float,
    heartbeat_timeout: float,
) -> str:
    """The Dask task of a *slot*: it holds a trial's resources on this worker and runs
    ``info``, then the further trials the driver sends it, until the driver releases it.

    Reusing the slot for the next trial of the same shape saves a trip through the Dask
    scheduler per trial. Returns how the slot ended ("released", "killed" ...).
    """
    worker = get_worker()
    where = f"on Dask worker {worker.address}"
    blob, fetching = _cached_blob(key)
    hello = ("slot", slot_id, worker.address, os.getpid(), blob is None)
    try:
        conn = channel.connect(
            driver,
            authkey,
            hello,
            _CONNECT_TIMEOUT_S,
            send_timeout=heartbeat_timeout / 2,
            ssl_context=channel.worker_tls(driver, worker),
        )
    except BaseException:
        _fetched(key, fetching, None)
        raise
    try:
        if not conn.poll(_CONNECT_TIMEOUT_S) or conn.recv() != "OK":
            _fetched(key, fetching, None)
            return "rejected"  # a stale copy: the driver already moved its trial on
        if blob is None:
            try:
                blob = conn.recv_bytes() if conn.poll(_FETCH_TIMEOUT_S) else None
            except (EOFError, OSError):
                blob = None
            _fetched(key, fetching, blob)
            if blob is None:
                return "killed"  # the driver went away
        silence = None if channel.HAS_USER_TIMEOUT else heartbeat_timeout / 2
        link = _Link(conn, min(1.0, heartbeat_timeout / 4), silence)
        try:
            cuda = physical_gpus(gpu_slots)
        except ValueError as exc:
            link.send(TrialLost(info.trial_id, f"ValueError: {exc} ({where})"))
            return "error"
        limit = _threads(worker)
        node_ip = get_address_host(worker.address)
        next_info: TrialInfo | None = info
        while next_info is not None:
            # The trial process makes the trial's folder; the experiment's is the driver's.
            if not os.path.isdir(next_info.experiment_path):
                problem = storage_problem(next_info.experiment_path, where)
                link.send(ErrorEvent(next_info.trial_id, problem))
            else:
                next_info.env["CUDA_VISIBLE_DEVICES"] = cuda
                next_info.env["OVERTONE_NODE_IP"] = node_ip
                relay = _Relay(next_info, link, _checkout(cuda), where, grace_s, limit)
                ended = relay.run(key, blob)
                if ended not in ("done", "error"):
                    return ended
            next_info = _next_trial(link)
        return "released"
    finally:
        conn.close()


def _fetched(key: str, fetching: threading.Event | None, blob: bytes | None) -> None:
    """The task that was fetching the trainable is done, with it or without it."""
    if fetching is None:
        return
    with _lock:
        if blob is not None:
            _blobs[key] = blob
            _stats["fetches"] += 1
        _fetching.pop(key, None)
    fetching.set()


def _next_trial(link: _Link) -> TrialInfo | None:
    """Wait for the driver's next trial for this slot; None once it releases the slot."""
    while not _preempt.is_set():
        if link.conn.poll(link.next_beat(time.monotonic())):
            msg = link.recv()
            if msg is None:
                return None
            if isinstance(msg, NextTrial):
                return msg.info
            continue  # a ping, or a late decision for the trial that just ended
        if not link.keep_alive(time.monotonic()):
            return None
    return None


def storage_problem(path: str, where: str) -> str:
    return (
        f"ValueError: the experiment's storage path {path} is not reachable {where}: "
        "workers on other machines need the same path on a shared file system (NFS, a "
        "cloud file store mounted at the same path), because trials write their "
        "checkpoints there"
    )


class _Relay:
    """Moves one trial's messages between its trial process and the driver."""

    def __init__(
        self,
        info: TrialInfo,
        link: _Link,
        proc: _TrialProcess,
        where: str,
        grace_s: float,
        limit: int,
    ) -> None:
        self.info = info
        self.link = link
        self.proc = proc
        self.where = where
        self.grace_s = grace_s
        self.limit = limit
        self.last_checkpoint: str | None = None

    def run(self, key: str, blob: bytes) -> str:
        """Relay until the trial ends: "done" or "error" (the slot may go on), else
        "killed" or "preempted" (the slot ends)."""
        with _lock:
            _active[id(self)] = self.grace_s
        try:
            return self._relay(key, blob)
        finally:
            with _lock:
                _active.pop(id(self), None)

    def _fail(self, text: str, lost: bool = False) -> None:
        """Tell the driver the trial failed; ``lost``: the slot ends too."""
        trial_id = self.info.trial_id
        self.link.send(TrialLost(trial_id, text) if lost else ErrorEvent(trial_id, text))

    def _relay(self, key: str, blob: bytes) -> str:
        proc, link, info = self.proc, self.link, self.info
        child, driver = proc.conn, link.conn
        try:
            if key not in proc.loaded:
                child.send(LoadTrainable(key, blob))
                proc.loaded.add(key)
            child.send(RunTrial(key, info))
        except OSError:
            self._fail(f"RuntimeError: {proc.death_reason(self.where)}")
            proc.kill()
            return "error"
        deadline: float | None = None
        while True:
            now = time.monotonic()
            if deadline is None and _preempt.is_set():
                deadline = now + self.grace_s
            timeout = link.next_beat(now)
            if deadline is not None:
                timeout = max(0.0, min(timeout, deadline - now))
            ready = wait([child, driver], timeout)
            if child in ready:
                for _ in range(_BATCH):
                    try:
                        data = child.recv_bytes()
                    except (EOFError, OSError):
                        self._fail(f"RuntimeError: {proc.death_reason(self.where)}")
                        proc.kill()
                        return "error"
                    msg = pickle.loads(data)
                    if not link.send_bytes(data):  # the driver is gone, or it killed us
                        proc.kill()
                        return "killed"
                    if isinstance(msg, (DoneEvent, ErrorEvent)):
                        _checkin(proc, self.limit)
                        return "done" if isinstance(msg, DoneEvent) else "error"
                    if msg.checkpoint_dirname:
                        self.last_checkpoint = msg.checkpoint_dirname
                        if deadline is not None:
                            proc.kill()
                            self._fail(self._preempted(True), lost=True)
                            return "preempted"
                    if not child.poll():
                        break
            if driver in ready:
                decision = link.recv()
                if decision is None:  # killed by the driver, or the driver is gone
                    proc.kill()
                    return "killed"
                if not isinstance(decision, Ping):
                    try:
                        child.send(decision)
                    except OSError:
                        pass  # the trial process died: its end of file comes next
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                proc.kill()
                self._fail(self._preempted(False), lost=True)
                return "preempted"
            if not link.keep_alive(now):
                proc.kill()
                return "killed"

    def _preempted(self, checkpointed: bool) -> str:
        head = (
            f"RuntimeError: the Dask worker running this trial is shutting down "
            f"({self.where.removeprefix('on ')}), so the trial moves to another worker"
        )
        if checkpointed:
            return f"{head}: it stopped right after saving {self.last_checkpoint}"
        if self.last_checkpoint:
            return (
                f"{head}: it reported no new checkpoint within the {self.grace_s:g} s "
                f"grace period; it restarts from {self.last_checkpoint}"
            )
        return f"{head}: it reported no checkpoint within the {self.grace_s:g} s grace period"


class PreemptionPlugin(WorkerPlugin):
    """Holds a closing worker's shutdown while its trials checkpoint (see the module doc)."""

    name = "overtone-preemption"
    idempotent = True  # registered by every experiment, installed once per worker

    async def teardown(self, worker: Any) -> None:
        if str(getattr(worker.status, "name", worker.status)) not in (
            "closing",
            "closing_gracefully",
        ):
            return  # unregistered while the worker runs on: nothing to do
        with _lock:
            grace = max(_active.values(), default=0.0)
        if not grace:
            return
        _preempt.set()
        deadline = time.monotonic() + grace + 1.0
        while time.monotonic() < deadline:
            with _lock:
                if not _active:
                    return
            await asyncio.sleep(0.05)


def probe(
    experiment_path: str,
    marker: str,
    token: str,
    driver: str,
    authkey: bytes,
    dask_worker: Any = None,
) -> list[str]:
    """Run on every worker before any trial: can it reach the storage and the driver?"""
    where = f"on Dask worker {dask_worker.address}" if dask_worker is not None else ""
    problems = []
    try:
        with open(os.path.join(experiment_path, marker), encoding="utf-8") as f:
            seen = f.read()
    except OSError:
        seen = None
    if seen != token:
        problems.append(storage_problem(experiment_path, where).removeprefix("ValueError: "))
    elif not os.access(experiment_path, os.W_OK | os.X_OK):
        problems.append(f"the storage path {experiment_path} is not writable {where}")
    try:
        tls = channel.worker_tls(driver, dask_worker)
        conn = channel.connect(driver, authkey, ("probe", where), 10.0, ssl_context=tls)
        try:
            if not conn.poll(10.0) or conn.recv() != "OK":
                raise channel.HandshakeError("no answer to the handshake")
        finally:
            conn.close()
    except (OSError, EOFError) as exc:
        problems.append(channel.unreachable(driver, where, exc))
    return problems


def forget(key: str) -> dict[str, int]:
    """Run on every worker at the end of an experiment: drop its trainable and trial
    processes (they hold the trainable, and the next experiment starts fresh ones)."""
    with _lock:
        _blobs.pop(key, None)
        idle = list(_idle)
        _idle.clear()
    for proc in idle:
        try:
            proc.conn.send(Exit())
        except OSError:
            pass
    if idle:  # they remove their spare folders and exit; the driver need not wait for it
        threading.Thread(target=_reap_idle, args=(idle,), daemon=True).start()
    return dict(_stats)


def _reap_idle(idle: list[_TrialProcess]) -> None:
    deadline = time.monotonic() + 2.0
    for proc in idle:
        try:
            proc.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        proc.kill()
