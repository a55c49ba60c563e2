"""The default executor: trials run in worker processes on this machine.

Workers are reused between trials, so starting a trial costs one message, not one process;
and they are forked from a copy of the driver (``_forkserver``), so starting one costs a few
milliseconds rather than an interpreter's start-up and imports.
A worker that ran with some GPUs visible is only reused for trials given the same GPUs,
because CUDA reads ``CUDA_VISIBLE_DEVICES`` once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from multiprocessing.connection import Connection, wait

from overtone._trial import Decision, Resources
from overtone.executors._base import DoneEvent, ErrorEvent, Event, Executor, ResultEvent
from overtone.executors._forkserver import ForkServer, check_start_method, choose_start_method
from overtone.executors._messages import Exit, LoadTrainable, RunTrial
from overtone.executors._pool import ResourcePool
from overtone.executors._process import ChildProcess, child_env
from overtone.runtime._session import ConfigNotSendableError, TrialInfo

_BYE_TIMEOUT_S = 2.0  # for idle workers to remove their spare trial folders at shutdown


def detect_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def detect_gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip()])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


class _Worker(ChildProcess):
    """A worker process; it exits at once when its life pipe closes (the driver died, even
    by SIGKILL)."""

    def __init__(
        self, gpu_key: tuple[int, ...], env: dict[str, str], fork_server: ForkServer | None
    ) -> None:
        env = {**env, "OVERTONE_PARENT_PID": str(os.getpid())}
        super().__init__("overtone.executors._worker", env, "the worker process", fork_server)
        self.gpu_key = gpu_key
        self.loaded: set[str] = set()
        self.trial_id: str | None = None


class LocalExecutor(Executor):
    """Trials in worker processes on this machine, as many at once as resources allow.

    Args:
        num_cpus: CPUs to hand out (default: the CPUs this process may use).
        num_gpus: GPUs to hand out (default: detected; set it to test GPU placement).
        resources: custom resources, e.g. ``{"license": 2}``.
        reuse_workers: keep worker processes alive between trials.
        start_method: how workers start. ``"fork"``: forked, in a few milliseconds each,
            from a copy of the driver made when the experiment starts, so they have what the
            driver had imported (``_forkserver``); ``"spawn"``: each a new interpreter that
            imports what it needs. ``"auto"`` (the default) forks unless the driver imported
            TensorFlow, JAX or MXNet or initialised CUDA, which a fork cannot carry over;
            the ``OVERTONE_WORKER_START`` environment variable can set ``fork`` or ``spawn``.
    """

    def __init__(
        self,
        num_cpus: float | None = None,
        num_gpus: int | None = None,
        resources: dict[str, float] | None = None,
        reuse_workers: bool = True,
        start_method: str = "auto",
    ) -> None:
        self.num_cpus = float(detect_cpus() if num_cpus is None else num_cpus)
        self.num_gpus = detect_gpus() if num_gpus is None else int(num_gpus)
        if self.num_cpus <= 0:
            raise ValueError(f"num_cpus is {num_cpus}, but must be > 0")
        if self.num_gpus < 0:
            raise ValueError(f"num_gpus is {num_gpus}, but must be >= 0")
        self.custom = dict(resources or {})
        self.reuse_workers = reuse_workers
        self.start_method = check_start_method(start_method)
        self._fork_server: ForkServer | None = None
        self.prepares_ahead = reuse_workers  # a worker with a spare folder exits cleanly
        self._pool = ResourcePool(self.num_cpus, self.num_gpus, self.custom)
        self._key = ""
        self._blob = b""
        self._busy: dict[str, tuple[_Worker, Resources, tuple[int, ...]]] = {}
        self._by_conn: dict[Connection, _Worker] = {}
        self._idle: list[_Worker] = []
        self._base_env = dict(os.environ)

    # -- Executor interface -------------------------------------------------------------
    def setup(self, trainable_key: str, trainable_blob: bytes) -> None:
        self._key, self._blob = trainable_key, trainable_blob
        if self._fork_server is None and choose_start_method(self.start_method)[0] == "fork":
            from overtone.executors._worker import forked_main

            try:
                self._fork_server = ForkServer(forked_main)
            except OSError:  # out of processes or memory: new interpreters may still start
                self._fork_server = None
        # Start the workers now, so that their start-up (an interpreter's, where they are not
        # forked) and the unpickling of the trainable overlap with the driver's own set-up.
        for _ in range(min(int(self.num_cpus), 8) - len(self._idle)):
            worker = self._spawn(())
            worker.conn.send(LoadTrainable(self._key, self._blob))
            worker.loaded.add(self._key)
            self._idle.append(worker)

    def total_resources(self) -> Resources:
        return Resources(cpu=self.num_cpus, gpu=self.num_gpus, custom=dict(self.custom))

    def can_start(self, resources: Resources) -> bool:
        return self._pool.fit(resources) is not None

    def start_trial(self, info: TrialInfo, resources: Resources) -> None:
        gpus = self._pool.fit(resources)
        if gpus is None:
            raise RuntimeError(f"not enough free resources to start trial {info.trial_id}")
        self._pool.take(resources, gpus)
        info.env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        worker = self._worker_for(gpus)
        if self._key not in worker.loaded:
            worker.conn.send(LoadTrainable(self._key, self._blob))
            worker.loaded.add(self._key)
        try:
            worker.conn.send(RunTrial(self._key, info))
        except ConfigNotSendableError:  # nothing was sent: the worker waits for the next
            self._pool.give_back(resources, gpus)
            del self._by_conn[worker.conn]
            self._idle.append(worker)
            raise
        worker.trial_id = info.trial_id
        self._busy[info.trial_id] = (worker, resources, gpus)

    def send_decision(self, trial_id: str, decision: Decision) -> None:
        entry = self._busy.get(trial_id)
        if entry is not None:
            try:
                entry[0].conn.send(decision)
            except OSError:
                pass  # the worker died; wait() reports it

    def kill_trial(self, trial_id: str) -> None:
        entry = self._busy.get(trial_id)
        if entry is not None:
            worker = entry[0]
            self._release(trial_id)
            self._by_conn.pop(worker.conn, None)
            worker.kill()

    def wait(self, timeout: float | None) -> list[Event]:
        if not self._busy:
            return []
        events: list[Event] = []
        for conn in wait(list(self._by_conn), timeout):
            worker = self._by_conn[conn]  # type: ignore[index]
            try:
                while True:
                    events.append(self._on_message(worker, conn.recv()))  # type: ignore[union-attr]
                    if worker.trial_id is None or not conn.poll():  # type: ignore[union-attr]
                        break
            except (EOFError, OSError):
                trial_id = worker.trial_id
                self._by_conn.pop(worker.conn, None)
                if trial_id is not None:
                    self._release(trial_id)
                    events.append(ErrorEvent(trial_id, f"RuntimeError: {worker.death_reason()}"))
                worker.kill()
        return events

    def shutdown(self) -> None:
        for worker in list(self._by_conn.values()):  # still running a trial: end it now
            worker.kill()
        for trial_id in list(self._busy):  # the executor may run another experiment
            self._release(trial_id)
        told = []
        for worker in self._idle:
            # Idle workers exit by themselves (cleaning up kept trainables); not waiting for
            # their interpreters to wind down saves the driver a few hundred milliseconds.
            try:
                worker.conn.send(Exit())
                told.append(worker)
            except OSError:
                worker.kill()
        deadline = time.monotonic() + _BYE_TIMEOUT_S
        for worker in told:  # each removes its spare trial folder, then says bye
            try:
                if worker.conn.poll(max(0.0, deadline - time.monotonic())):
                    worker.conn.recv()
            except (EOFError, OSError):
                pass
        for worker in self._idle:
            worker.conn.close()
            worker.close_life()
        if self._fork_server is not None:  # after the idle workers' goodbyes
            self._fork_server.close()
            self._fork_server = None
        self._by_conn.clear()
        self._idle.clear()
        self._busy.clear()

    # -- internals ----------------------------------------------------------------------
    def _on_message(self, worker: _Worker, msg: ResultEvent | DoneEvent | ErrorEvent) -> Event:
        if isinstance(msg, ResultEvent):
            return msg
        # The trial ended: returned, stopped or paused. Either way its resources are free.
        self._release(msg.trial_id)
        self._by_conn.pop(worker.conn, None)
        if self.reuse_workers:
            self._idle.append(worker)
        else:
            worker.kill()
        return msg

    def _release(self, trial_id: str) -> None:
        worker, resources, gpus = self._busy.pop(trial_id)
        worker.trial_id = None
        self._pool.give_back(resources, gpus)

    def _worker_for(self, gpus: tuple[int, ...]) -> _Worker:
        for i, worker in enumerate(self._idle):
            if worker.gpu_key == gpus and worker.alive():
                del self._idle[i]
                self._by_conn[worker.conn] = worker
                return worker
        # Keep at most as many idle workers as could ever run at once.
        limit = max(1, int(self.num_cpus))
        while len(self._idle) >= limit:
            self._idle.pop(0).kill()
        worker = self._spawn(gpus)
        self._by_conn[worker.conn] = worker
        return worker

    def _spawn(self, gpus: tuple[int, ...]) -> _Worker:
        if self._fork_server is not None and not self._fork_server.alive():
            self._fork_server.close()  # killed from outside: new interpreters from now on
            self._fork_server = None
        env = child_env(self._base_env, ",".join(map(str, gpus)))
        return _Worker(gpus, env, self._fork_server)
