"""The processes that run trials: started, ended and, when they die, explained.

The local executor's workers and the Dask executor's trial processes are both a Python child
process serving the trial protocol (``_messages``) on its end of a socket pair.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overtone.executors._forkserver import ForkedProcess, ForkServer

_PR_SET_PDEATHSIG = 1


def child_env(base: dict[str, str], cuda: str) -> dict[str, str]:
    """``base`` with ``CUDA_VISIBLE_DEVICES=cuda``, and with this interpreter's ``sys.path``
    on ``PYTHONPATH``, so that the child imports what the driver (or worker) imports."""
    env = dict(base)
    env["CUDA_VISIBLE_DEVICES"] = cuda
    paths = [p for p in sys.path if p]
    old = base.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    return env


class ChildProcess:
    """``python -m MODULE CONN_FD LIFE_FD``, or a fork from ``fork_server``: a child that
    speaks over ``conn`` and exits when the write end of its *life pipe*, which only this
    process holds, closes (this process died, even by SIGKILL: see :func:`exit_at_eof`).

    Args:
        module: the module to run.
        env: its environment.
        label: what it is called in messages ("the worker process").
        fork_server: fork it from there (``_forkserver``) rather than start an interpreter;
            if that fails (the fork server died, or cannot fork), an interpreter it is.
    """

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        label: str,
        fork_server: ForkServer | None = None,
    ) -> None:
        parent, child = socket.socketpair()
        life_r, life_w = os.pipe()
        fds = (child.fileno(), life_r)
        try:
            proc: subprocess.Popen[bytes] | ForkedProcess | None = None
            if fork_server is not None:  # it runs its worker_main instead of ``module``
                with contextlib.suppress(OSError):  # it died, or cannot fork: see below
                    proc = fork_server.spawn(env, fds)
            if proc is None:
                proc = subprocess.Popen(
                    [sys.executable, "-m", module, *map(str, fds)], pass_fds=fds, env=env
                )
            self.proc = proc
        except BaseException:
            parent.close()
            os.close(life_w)
            raise
        finally:
            child.close()
            os.close(life_r)
        self.conn = Connection(parent.detach())
        self._life_w: int | None = life_w
        self.label = label

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """End it now (SIGKILL), close the connection and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.conn.close()
        self.proc.wait()
        self.close_life()

    def close_life(self) -> None:
        """Close the life pipe's write end: the child exits once it sees that."""
        if self._life_w is not None:
            os.close(self._life_w)
            self._life_w = None

    def death_reason(self, where: str = "") -> str:
        """Why its connection ended: its exit code or signal. One that does not exit within
        a few seconds is killed, as "stopped answering"."""
        what = f"{self.label} (pid {self.proc.pid})" + (f" {where}" if where else "")
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return f"{what} stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"{what} was killed by {name}"
        return f"{what} exited with code {code}"


def die_with_parent(life_fd: int | None, parent_pid: int | None) -> None:
    """In a child process: end it (``os._exit``) as soon as the process that started it is
    gone, even if that one was killed with SIGKILL.

    On Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``); everywhere,
    a thread waits for the end of file on ``life_fd``, a pipe whose write end only the parent
    holds. ``parent_pid`` closes the race of a parent that died before either was in place.
    The kernel's signal follows the *thread* that started the child: the local executor
    starts its workers from the controller's thread and stops them before that one returns.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
    if life_fd is not None:
        exit_at_eof(life_fd)


def exit_at_eof(life_fd: int) -> None:
    """In a child process: end it (``os._exit``) when the life pipe ``life_fd`` reaches its
    end of file, that is when the process holding the write end is gone."""

    def watch() -> None:
        try:
            while os.read(life_fd, 1):
                pass
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=watch, name="overtone-life", daemon=True).start()
