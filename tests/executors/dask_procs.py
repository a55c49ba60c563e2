"""Real Dask clusters for the tests: a ``dask scheduler`` and ``dask worker`` subprocesses.

Every process is started in its own session so that a test can kill a whole worker (its
nanny, its worker process and the trial processes under it) the way a machine dies. Waits
are bounded; ``close()`` kills whatever is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 60.0


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # The workers must import what the tests pickle by reference (module-level trainables).
    paths = [str(HERE)] + [p for p in sys.path if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["DASK_DISTRIBUTED__ADMIN__TICK__LIMIT"] = "30s"  # no event-loop warnings on 2 CPUs
    env.update(extra or {})
    return env


class DaskCluster:
    """A scheduler and its workers, each a subprocess (possibly under a command prefix)."""

    def __init__(self, host: str = "127.0.0.1", prefix: Sequence[str] = ()) -> None:
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="overtone-dask-test-")
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[str] = []
        scheduler_file = os.path.join(self.dir, "scheduler.json")
        self.scheduler = self._spawn(
            [
                *prefix,
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                host,
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                scheduler_file,
            ],
            "scheduler",
            None,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not os.path.exists(scheduler_file):
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the test scheduler did not start:\n{self.logs()}")
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written in one go, but give it a moment
        self.address = json.loads(Path(scheduler_file).read_text())["address"]

    def _spawn(
        self, argv: list[str], name: str, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        log = os.path.join(self.dir, f"{name}-{len(self._logs)}.log")
        self._logs.append(log)
        with open(log, "wb") as out:
            return subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=_env(env), start_new_session=True
            )

    def add_worker(
        self,
        resources: str = "CPU=1",
        nthreads: int = 1,
        *,
        host: str | None = None,
        prefix: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        argv = [
            *prefix,
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            self.address,
            "--nthreads",
            str(nthreads),
            "--resources",
            resources,
            "--no-dashboard",
            "--host",
            host or self.host,
            "--memory-limit",
            "0",
            "--local-directory",
            os.path.join(self.dir, "work"),
            "--death-timeout",
            "60",
        ]
        proc = self._spawn(argv, "worker", env)
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int, timeout: float = START_TIMEOUT_S) -> list[str]:
        """Wait until n workers are up; returns their addresses."""
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            try:
                client.wait_for_workers(n, timeout=timeout)
            except TimeoutError:
                raise RuntimeError(f"{n} test workers did not start:\n{self.logs()}") from None
            return sorted(client.scheduler_info(n_workers=-1)["workers"])

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole session of a process (a machine going away)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def logs(self) -> str:
        out = []
        for log in self._logs:
            try:
                out.append(f"--- {log}\n" + Path(log).read_text(errors="replace")[-3000:])
            except OSError:
                pass
        return "\n".join(out)

    def close(self, graceful: bool = True) -> None:
        """Stop everything: SIGTERM first (unless not ``graceful``), then SIGKILL."""
        procs = [*self.workers, self.scheduler]
        for proc in procs:
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM if graceful else signal.SIGKILL)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self.kill(proc, signal.SIGKILL)  # the session: nanny, worker, trial processes
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        subprocess.run(["rm", "-rf", self.dir], check=False)
