"""Worker processes forked from a copy of the driver, instead of started as new interpreters.

A new interpreter pays for its start and for every import again: Overtone's worker modules,
and then whatever the trainable imports (``import xgboost`` pulls in scikit-learn, ~1.5 s
here). A fork of the driver already has all of that. So when the local executor starts, it
forks the driver once: that copy, the *fork server*, does nothing but fork workers on request,
each a few milliseconds, holding everything the driver had imported at that moment.

Two hazards of forking a running program are avoided by construction:

- Only the forking thread survives a fork; a library that keeps a thread pool in that thread
  (GNU OpenMP: XGBoost, LightGBM, scikit-learn, PyTorch on CPU) hangs in the child at its next
  parallel region. The fork server is forked from a new thread that never ran such code, and
  its workers from its only thread, so their pools start afresh.
- Some state cannot be copied at all: a CUDA context (PyTorch with CUDA initialised) and
  frameworks that start runtime threads at import (TensorFlow, JAX, MXNet). With any of those
  in the driver, :func:`choose_start_method` keeps to new interpreters.

The driver sends a request per worker over a ``SOCK_SEQPACKET`` pair: the worker's environment,
with its connection and life-pipe descriptors attached (``SCM_RIGHTS``). The fork server answers
with the worker's pid and the read end of a *status pipe*, on which it writes the worker's wait
status when it reaps it: :class:`ForkedProcess` reads it for ``poll()``/``wait()``, as
``subprocess.Popen`` would.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import os
import pickle
import select
import signal
import socket
import stat
import struct
import sys
import threading
import warnings
from collections.abc import Callable

_START_METHODS = ("auto", "fork", "spawn")
_ENV = "OVERTONE_WORKER_START"
# Imported in the driver, these make a fork unsafe: runtime threads started at import, or a
# GPU context that a child cannot use.
_NO_FORK_MODULES = ("tensorflow", "jax", "mxnet", "paddle", "cupy")
_MAX_MESSAGE = 1 << 20
_MAX_FDS = 8

WorkerMain = Callable[[list[int]], None]


def check_start_method(value: str) -> str:
    if value not in _START_METHODS:
        raise ValueError(
            f"start_method is {value!r}, but must be one of {', '.join(map(repr, _START_METHODS))}"
        )
    return value


def choose_start_method(requested: str) -> tuple[str, str]:
    """``("fork" | "spawn", why)`` for a local executor asked for ``requested``.

    ``OVERTONE_WORKER_START=fork|spawn`` overrides ``"auto"``.
    """
    if requested == "auto":
        env = os.environ.get(_ENV, "auto").strip().lower() or "auto"
        if env != "auto":
            if env not in ("fork", "spawn"):
                raise ValueError(f"{_ENV} is {env!r}, but must be 'auto', 'fork' or 'spawn'")
            return env, f"{_ENV}={env}"
    if requested == "spawn":
        return "spawn", "asked for"
    if not sys.platform.startswith("linux") or not hasattr(socket, "send_fds"):
        # elsewhere, no /proc/self/fd to detach the driver's descriptors with (and macOS's
        # system frameworks are not safe to use after a fork)
        return "spawn", "workers are forked on Linux only"
    if requested == "fork":
        return "fork", "asked for"
    loaded = [name for name in _NO_FORK_MODULES if name in sys.modules]
    if loaded:
        return "spawn", f"the driver imported {loaded[0]}"
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            if torch.cuda.is_initialized():
                return "spawn", "the driver initialised CUDA"
    return "fork", "auto"


class ForkedProcess:
    """A worker forked by the fork server: the parts of ``subprocess.Popen`` that
    ``ChildProcess`` uses (``pid``, ``poll``, ``wait``, ``send_signal``, ``returncode``)."""

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._status_fd: int | None = status_fd
        self._data = b""

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import subprocess

        if self.returncode is None:
            self._read(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # not reaped yet, so the pid is still this process's
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def _read(self, timeout: float | None) -> None:
        fd = self._status_fd
        if fd is None:
            return
        if timeout is not None and not select.select([fd], [], [], timeout)[0]:
            return
        while True:
            chunk = os.read(fd, 16)
            self._data += chunk
            if not chunk or len(self._data) >= 4:
                break
        os.close(fd)
        self._status_fd = None
        if len(self._data) >= 4:
            self.returncode = os.waitstatus_to_exitcode(struct.unpack("i", self._data[:4])[0])
        else:  # the fork server died before it could reap the worker
            self.returncode = -signal.SIGKILL

    def __del__(self) -> None:
        if self._status_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._status_fd)


class ForkServer:
    """A fork of the driver that forks workers; :meth:`close` it when the executor stops.

    Args:
        worker_main: what a forked worker runs, with the descriptors passed to
            :meth:`spawn`, in the environment passed along; the worker ends when it
            returns.
        close_fds: detach every descriptor but the standard streams in the fork server (see
            :func:`_detach_fds`), so that its workers hold none of the parent's. Without it,
            regular files stay shared, as in any fork (a trial may log to a file that the
            driver's logging opened), and everything else (sockets, pipes) is detached.
        preload: modules the fork server imports before it forks anything, so that no
            worker imports them again.
    """

    def __init__(
        self, worker_main: WorkerMain, close_fds: bool = False, preload: tuple[str, ...] = ()
    ) -> None:
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        life_r, life_w = os.pipe()
        self._life_w: int | None = life_w
        started: list[int] = []
        failure: list[BaseException] = []

        def fork() -> None:
            try:
                with warnings.catch_warnings():  # "this process is multi-threaded" (3.12+)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                failure.append(exc)
                return
            if pid == 0:
                code = 1
                try:
                    self._sock.close()
                    os.close(life_w)
                    _detach_fds((0, 1, 2, theirs.fileno(), life_r), files_too=close_fds)
                    for module in preload:
                        importlib.import_module(module)
                    _serve(theirs, life_r, worker_main)
                    code = 0
                finally:
                    os._exit(code)
            started.append(pid)

        for stream in (sys.stdout, sys.stderr):  # or the copies would print it again
            with contextlib.suppress(Exception):
                stream.flush()
        # A new thread: a fork keeps only the forking thread, with its thread-local state,
        # and a thread that never ran an OpenMP region has no pool to lose.
        thread = threading.Thread(target=fork, name="overtone-fork-server")
        thread.start()
        thread.join()
        theirs.close()
        os.close(life_r)
        if failure:
            self._let_go()
            raise failure[0]
        self.pid = started[0]
        self._lock = threading.Lock()

    def spawn(self, env: dict[str, str], fds: tuple[int, ...]) -> ForkedProcess:
        """Fork a worker that runs ``worker_main(fds)`` with ``env`` as its environment; the
        worker gets its own copies of ``fds`` (the caller closes its own)."""
        with self._lock:
            socket.send_fds(self._sock, [pickle.dumps(env)], list(fds))
            data, fds, _flags, _addr = socket.recv_fds(self._sock, 64, 1)
        if not data:
            raise OSError(f"the fork server (pid {self.pid}) is gone")
        (pid,) = struct.unpack("i", data[:4])
        if pid < 0 or not fds:
            for fd in fds:
                os.close(fd)
            raise OSError(-pid, f"the fork server could not fork: {os.strerror(-pid)}")
        return ForkedProcess(pid, fds[0])

    def __del__(self) -> None:  # an executor set up but never shut down
        with contextlib.suppress(Exception):
            self._let_go()

    def alive(self) -> bool:
        try:
            pid, _status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def close(self) -> None:
        """End the fork server; its workers end with it (their parent-death signal)."""
        self._let_go()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def _let_go(self) -> None:
        """Close this process's ends: the fork server sees them close and exits."""
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._life_w is not None:
            os.close(self._life_w)
            self._life_w = None


# -- the fork server's side -------------------------------------------------------------
def _serve(sock: socket.socket, life_r: int, worker_main: WorkerMain) -> None:
    gc.freeze()  # the driver's objects are never collected here, nor in the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the driver
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    status: dict[int, int] = {}  # worker pid -> write end of its status pipe
    while True:
        ready = select.select([sock, life_r, wake_r], [], [])[0]
        if wake_r in ready:
            os.read(wake_r, 512)
            _reap(status)
        if life_r in ready:
            return  # the driver is gone
        if sock in ready and not _fork_one(sock, status, worker_main, (life_r, wake_r, wake_w)):
            return  # the driver closed its end


def _detach_fds(keep: tuple[int, ...], files_too: bool) -> None:
    """Point the inherited descriptors not in ``keep`` at ``/dev/null``: sockets, pipes and
    the like always (another executor's connections and life pipes, whose copies here would
    keep them open after the driver closed them; a server's listening socket), regular files
    only with ``files_too``. Not closed: a Python object of the parent's may still hold the
    number, and a closed number is reused, so that object would read or write someone
    else's descriptor; ``/dev/null`` only ever fails or swallows."""
    if not os.path.isdir("/proc/self/fd"):
        return
    null = os.open(os.devnull, os.O_RDWR)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep or fd == null:
            continue
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if files_too or not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISDIR(mode)):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    os.close(null)


def _reap(status: dict[int, int]) -> None:
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = status.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.write(fd, struct.pack("i", wait_status))
            os.close(fd)


def _fork_one(
    sock: socket.socket,
    status: dict[int, int],
    worker_main: WorkerMain,
    own_fds: tuple[int, ...],
) -> bool:
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, _MAX_FDS)
    except OSError:
        return False
    if not data:
        return False
    env = pickle.loads(data)
    status_r, status_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (*fds, status_r, status_w):
            os.close(fd)
        sock.send(struct.pack("i", -(exc.errno or 1)))
        return True
    if pid == 0:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sock.close()
            for fd in (status_r, status_w, *own_fds, *status.values()):
                os.close(fd)
            os.environ.clear()
            os.environ.update(env)
            _fresh_process_state()
            worker_main(fds)
            code = 0
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    status[pid] = status_w
    socket.send_fds(sock, [struct.pack("i", pid)], [status_r])
    os.close(status_r)
    return True


def _fresh_process_state() -> None:
    """What a new interpreter would have that a fork of the driver does not."""
    # Standard streams of its own: the driver's may be replaced (pytest's capture, a
    # notebook's) or have been locked by another thread at the fork.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=False)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), write_through=True, errors="backslashreplace"
    )
    # ``random`` reseeds itself in a fork; NumPy's global generator does not, so two workers
    # would draw the same numbers.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        with contextlib.suppress(Exception):
            numpy.random.seed()
