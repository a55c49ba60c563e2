"""The cluster side of the Dask executor: the connection to the scheduler, the list of
workers with what they declare and what our trials hold there, where a trial fits, and the
check that every worker can reach the storage and the driver.

The trial side (``_dask``) asks it where to run a trial and runs it there.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overtone._errors import TuneError
from overtone._trial import Resources
from overtone.executors._pool import ResourcePool

_REFRESH_S = 2.0  # how often the list of workers is fetched while trials run
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
class DaskWorker:
    """The driver's view of one Dask worker: what it declares and what our trials hold."""

    address: str
    names: dict[str, str]  # lower-case resource name -> the worker's own spelling
    pool: ResourcePool  # "cpu", "gpu" and custom resources, lower-case; slots are threads
    status: str = "running"  # as the scheduler last said; trials start only on "running"
    suspect_until: float = 0.0  # a trial here was lost: start no trials here until then

    @classmethod
    def from_info(cls, address: str, info: dict[str, Any]) -> DaskWorker:
        declared = {str(k): float(v) for k, v in (info.get("resources") or {}).items()}
        names = {k.lower(): k for k in declared}
        total = {k.lower(): v for k, v in declared.items()}
        threads = int(info.get("nthreads") or 1)
        cpu = total.pop("cpu", float(threads))  # undeclared: one CPU per thread
        gpus = int(total.pop("gpu", 0.0))
        return cls(address, names, ResourcePool(cpu, gpus, total, slots=threads))

    @property
    def total(self) -> dict[str, float]:
        return self.pool.total

    def usable(self) -> bool:
        return self.status == "running" and time.monotonic() >= self.suspect_until

    def dask_resources(self, res: Resources) -> dict[str, float] | None:
        """The trial's resources in the worker's own names, for those it declares."""
        asked = {"cpu": res.cpu, "gpu": res.gpu, **res.custom}
        out = {self.names[k]: v for k, v in asked.items() if v > 0 and k in self.names}
        return out or None

    def describe(self) -> str:
        total = self.total
        parts = [f"CPU={total['cpu']:g}", f"GPU={total['gpu']:g}"]
        parts += [f"{k}={v:g}" for k, v in total.items() if k not in ("cpu", "gpu")]
        return ",".join(parts)


class DaskCluster:
    """The scheduler, its workers, and where trials fit on them.

    Args:
        address: the scheduler's address or a Dask cluster object (None with ``client``).
        client: an existing ``distributed.Client`` (left open at the end).
        reconnect_timeout: how long to wait for a lost scheduler to come back.
        worker_timeout: how long to wait for a worker when there is none (or none fits).
        suspect_s: how long a worker that lost a trial gets no new one.
        in_use: the addresses of the workers our trials hold resources on (kept in the list
            even when the scheduler no longer lists them, until their trials are settled).
    """

    def __init__(
        self,
        address: str | Any,
        client: Any,
        reconnect_timeout: float,
        worker_timeout: float,
        suspect_s: float,
        in_use: Callable[[], set[str]],
    ) -> None:
        self.address = address
        self.reconnect_timeout = reconnect_timeout
        self.worker_timeout = worker_timeout
        self.suspect_s = suspect_s
        self._in_use = in_use
        self._given_client = client
        self._client: Any = client
        self.workers: dict[str, DaskWorker] = {}
        self.listed: set[str] = set()  # every worker the scheduler listed, in any status
        self.refreshed = 0.0
        self._ready = False  # the list of workers was fetched since we connected
        self.experiment_path = ""  # named in the error when the scheduler is lost

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
                    f"cannot connect to the Dask scheduler at {self.address_text()}: {exc}"
                ) from exc
        if not self._ready:
            self._wait_for_workers()
            self._ready = True
        return self._client

    def address_text(self) -> str:
        if isinstance(self.address, str):
            return self.address
        if self._client is not None:
            return str(self._client.scheduler.address)
        return str(getattr(self.address, "scheduler_address", self.address))

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + self.worker_timeout
        while True:
            self.refresh(force=True)
            if any(w.status == "running" for w in self.workers.values()):
                return
            if time.monotonic() >= deadline:
                raise TuneError(
                    f"no Dask worker joined the scheduler at {self.address_text()} within "
                    f"{self.worker_timeout:g} s: start workers with "
                    f'`dask worker {self.address_text()} --resources "CPU=..."`'
                )
            time.sleep(0.2)

    def connected(self) -> bool:
        return self._client is not None and self._client.status == "running"

    def lost_for_good(self, since: float) -> bool:
        """Whether a scheduler unreachable since ``since`` will not come back."""
        status = self._client.status if self._client is not None else "closed"
        return status in ("closed", "closing") or time.monotonic() - since > self.reconnect_timeout

    def await_scheduler(self) -> None:
        """Wait for a lost scheduler to come back; raise if it does not in time."""
        since = time.monotonic()
        while not self.connected():
            if self.lost_for_good(since):
                self.fail_lost_scheduler()
            time.sleep(0.1)

    def fail_lost_scheduler(self) -> None:
        where = self.experiment_path or "the experiment's directory"
        raise TuneError(
            f"lost the connection to the Dask scheduler at {self.address_text()} and could "
            f"not reconnect within {self.reconnect_timeout:g} s. Every result so far is saved "
            f"in {where}: once the cluster is back, resume the experiment (tune.run(..., "
            "resume=True) or tune.Tuner.restore(path)); its trials restart from their latest "
            "checkpoints"
        )

    def close(self) -> None:
        """Close the client if this object opened it."""
        client = self._client
        if client is not None and self._given_client is None:
            try:
                client.close(timeout=5)
            except Exception:  # noqa: BLE001 - the scheduler may be gone
                pass
            self._client = None
        self.workers.clear()
        self._ready = False

    # -- workers --------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Fetch the list of workers (at most every few seconds unless forced)."""
        now = time.monotonic()
        if not force and now - self.refreshed < _REFRESH_S:
            return
        if not self.connected():
            return
        try:
            try:
                info = self._client.scheduler_info(n_workers=-1)
            except TypeError:  # distributed before n_workers= listed them all anyway
                info = self._client.scheduler_info()
        except (OSError, TimeoutError):
            return
        self.refreshed = now
        listed = info.get("workers", {})
        in_use = self._in_use()
        for addr in list(self.workers):
            if addr not in listed and addr not in in_use:
                del self.workers[addr]
        for addr, w in listed.items():
            if addr not in self.workers:
                self.workers[addr] = DaskWorker.from_info(addr, w)
            self.workers[addr].status = str(w.get("status", "running"))
        self.listed = set(listed)

    def suspect(self, address: str) -> None:
        """Start no trial on a worker that just lost one, until the scheduler has had time
        to notice whether it is gone."""
        worker = self.workers.get(address)
        if worker is not None:
            worker.suspect_until = time.monotonic() + self.suspect_s
        self.refreshed = 0.0  # look again at the list of workers soon

    def total_resources(self) -> Resources:
        total: dict[str, float] = {}
        for w in self.workers.values():
            for k, v in w.total.items():
                total[k] = total.get(k, 0.0) + v
        cpu, gpu = total.pop("cpu", 0.0), total.pop("gpu", 0.0)
        return Resources(cpu=cpu, gpu=gpu, custom=total)

    def place(self, resources: Resources) -> tuple[DaskWorker, tuple[int, ...]] | None:
        """The worker (and its GPU slots) where a trial asking for ``resources`` fits best
        now, or None."""
        best: tuple[tuple[float, float, str], DaskWorker, tuple[int, ...]] | None = None
        for worker in self.workers.values():
            if not worker.usable():
                continue
            gpus = worker.pool.fit(resources)
            if gpus is None:
                continue
            # Best fit: the worker left with the least room, so big trials find room too.
            free = worker.pool.free
            rank = (free["cpu"] - resources.cpu, free["gpu"], worker.address)
            if best is None or rank < best[0]:
                best = (rank, worker, gpus)
        return None if best is None else (best[1], best[2])

    def never_fits(self, resources: Resources) -> bool:
        """Whether no worker of the cluster could ever hold a trial asking for this."""
        return bool(self.workers) and not any(
            w.pool.could_ever_fit(resources) for w in self.workers.values()
        )

    def wait_for_room(self, resources: Resources) -> None:
        """With nothing of ours running, wait for the cluster to change until a trial
        asking for ``resources`` fits; raise after ``worker_timeout``."""
        deadline = time.monotonic() + self.worker_timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            self.refresh(force=True)
            if self.place(resources) is not None:
                return
        raise TuneError(
            f"no Dask worker could start a trial asking for {resources.to_dict()} for "
            f"{self.worker_timeout:g} s; the workers of {self.address_text()} are: "
            + self.describe_workers()
        )

    def refuse(self, resources: Resources) -> ValueError:
        """The error for a trial that no worker could ever hold."""
        return ValueError(
            f"a trial asks for {resources.to_dict()}, but no worker of the Dask "
            f"cluster at {self.address_text()} has that much; its workers are: "
            f"{self.describe_workers()}. Start workers with more, e.g. "
            '`dask worker ADDRESS --resources "CPU=8,GPU=2"`, or ask for less'
        )

    def describe_workers(self) -> str:
        if not self.workers:
            return "none"
        counts: dict[str, int] = {}
        for w in self.workers.values():
            counts[w.describe()] = counts.get(w.describe(), 0) + 1
        return "; ".join(f"{n} x {d}" for d, n in counts.items())

    # -- running code on the workers ------------------------------------------------------
    def run_on_workers(self, fn: Any, *args: Any, timeout: float) -> dict[str, Any]:
        """``client.run`` on the usable workers, giving up on it after ``timeout`` (a
        worker cut off from the network would otherwise hold the driver for minutes)."""
        workers = [w.address for w in self.workers.values() if w.usable()]
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

    def probe(self, experiment_path: str, driver: str, authkey: bytes) -> None:
        """Before any trial: can every worker reach the storage path and the driver?"""
        from overtone.executors._dask_task import probe

        self.experiment_path = experiment_path
        token = os.urandom(8).hex()
        marker = os.path.join(experiment_path, _PROBE_MARKER)
        with open(marker, "w", encoding="utf-8") as f:
            f.write(token)
        try:
            answers = self.run_on_workers(
                probe, experiment_path, _PROBE_MARKER, token, driver, authkey, timeout=60.0
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


def route_to(address: str) -> str:
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
