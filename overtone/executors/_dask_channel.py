"""The wires of the Dask executor: the task's connection to the driver, and trial processes.

Each trial's Dask task opens one TCP connection to a small listener in the driver. The
connection is authenticated with a random key that only the driver and its tasks know:

    driver -> task: 16 random bytes (the challenge)
    task -> driver: HMAC-SHA256(key, challenge), then one length-prefixed pickled hello:
                    ("slot", slot_id, worker_address, pid, wants_trainable)
                    or ("probe", where)
    driver -> task: "OK" or "REJECT" (a multiprocessing ``Connection`` message), then,
                    if the task wants it, the pickled trainable (a bytes message): each
                    worker process asks for it once per experiment

After that both ends speak ``multiprocessing.connection`` framing, the same messages as the
local worker protocol (see ``_worker.py``) plus a heartbeat:

    task -> driver: ("result", trial_id, result, checkpoint_dirname) | ("done", trial_id)
                    | ("error", trial_id, traceback_text) | ("beat",)
                    | ("lost", trial_id, text): the trial failed and the task ends
    driver -> task: "CONTINUE" | "STOP" | "PAUSE" (answers to results)
                    | ("run", TrialInfo): the next trial, once the last one ended
                    | "PING" (the driver is alive)
    Closing the connection ends the task, and kills its trial if one runs.

One task (a *slot*) holds one trial's resources and runs trials of that shape one after
another, as long as the driver has them: that saves a trip through the Dask scheduler per
trial. The first trial travels with the task itself.

A trial itself runs in a *trial process* that the task starts (or reuses) on the worker's
machine: ``python -m overtone.executors._dask_channel CONN_FD LIFE_FD``. It serves the local
worker protocol on CONN_FD, and exits when LIFE_FD (a pipe whose write end only the Dask
worker process holds) reaches end-of-file, so that it never outlives its worker.

The driver's end is :class:`Listener`: a thread that accepts and checks connections and
hands them to the driver's loop, waking it through a socket pair.

This module imports nothing from Dask: trial processes load it first.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import selectors
import signal
import socket
import struct
import sys
import threading
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

# Linux can fail a connection whose data stays unacknowledged too long: the sign that the
# peer's machine is gone or cut off, which a busy peer never shows.
HAS_USER_TIMEOUT = hasattr(socket, "TCP_USER_TIMEOUT")
CHALLENGE_BYTES = 16
_MAC_BYTES = hashlib.sha256().digest_size
_MAX_HELLO = 1 << 16


def _mac(authkey: bytes, challenge: bytes) -> bytes:
    return hmac.new(authkey, challenge, hashlib.sha256).digest()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("the peer closed the connection during the handshake")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def parse_address(address: str) -> tuple[str, int]:
    """``"host:port"`` (IPv6 hosts in brackets) to a (host, port) pair."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address is {address!r}, but must look like 'host:port'")
    return host.strip("[]"), int(port)


def connect(
    address: str,
    authkey: bytes,
    hello: tuple[Any, ...],
    timeout: float,
    send_timeout: float | None = None,
) -> Connection:
    """Open an authenticated connection to the driver and send ``hello``.

    The caller then reads the driver's "OK" or "REJECT". With ``send_timeout``, the
    connection fails when what it sent stays unacknowledged that long (where the system
    offers ``TCP_USER_TIMEOUT``), and a send that cannot go out that long fails: the network
    to the driver is down. A driver that is only busy still acknowledges.
    """
    sock = socket.create_connection(parse_address(address), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        challenge = _recv_exact(sock, CHALLENGE_BYTES)
        payload = pickle.dumps(hello)
        sock.sendall(_mac(authkey, challenge) + struct.pack("!i", len(payload)) + payload)
        sock.settimeout(None)
        if send_timeout is not None:
            set_send_timeout(sock, send_timeout)
            if HAS_USER_TIMEOUT:
                sock.setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(send_timeout * 1000)
                )
    except BaseException:
        sock.close()
        raise
    return Connection(sock.detach())


def set_send_timeout(sock: socket.socket, seconds: float) -> None:
    """Make blocking sends on ``sock`` fail after ``seconds`` (``Connection`` writes to the
    file descriptor directly, so a Python-level socket timeout would not apply)."""
    whole = int(seconds)
    sock.setsockopt(
        socket.SOL_SOCKET,
        socket.SO_SNDTIMEO,
        struct.pack("ll", whole, int((seconds - whole) * 1e6)),
    )


def accept(
    sock: socket.socket, authkey: bytes, timeout: float, send_timeout: float = 10.0
) -> tuple[Connection, Any]:
    """Check a new connection's answer to a challenge; return it with its hello.

    A send on the returned connection fails when it makes no progress for
    ``send_timeout`` seconds, so that a worker gone silent cannot block the driver.

    Raises ``ConnectionError`` for a peer that does not know the key: nothing it sent is
    unpickled.
    """
    try:
        sock.settimeout(timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        challenge = os.urandom(CHALLENGE_BYTES)
        sock.sendall(challenge)
        answer = _recv_exact(sock, _MAC_BYTES)
        if not hmac.compare_digest(answer, _mac(authkey, challenge)):
            raise ConnectionError("a connection answered the challenge with the wrong key")
        (size,) = struct.unpack("!i", _recv_exact(sock, 4))
        if not 0 < size <= _MAX_HELLO:
            raise ConnectionError(f"a hello of {size} bytes, but at most {_MAX_HELLO} are allowed")
        hello = pickle.loads(_recv_exact(sock, size))
        sock.settimeout(None)
        set_send_timeout(sock, send_timeout)
    except BaseException:
        sock.close()
        raise
    return Connection(sock.detach()), hello


# -- the driver's end ------------------------------------------------------------------
class Listener:
    """Accepts the tasks' connections in a thread; hands each checked one to the driver."""

    def __init__(self, host: str, port: int, authkey: bytes) -> None:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.sock = socket.create_server((host, port), family=family, backlog=256)
        self.address = f"{host}:{self.sock.getsockname()[1]}"
        if ":" in host:
            self.address = f"[{host}]:{self.sock.getsockname()[1]}"
        self.authkey = authkey
        self.incoming: deque[tuple[Connection, Any]] = deque()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_w.setblocking(False)
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve, name="overtone-dask-listener", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass  # the buffer is full: a wake-up is pending anyway

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            selector.register(self._stop_r, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]
                if self._stop_r in ready:
                    return
                self._accept_one()

    def _accept_one(self) -> None:
        try:
            sock, _ = self.sock.accept()
        except OSError:
            return
        try:
            conn, hello = accept(sock, self.authkey, timeout=10.0)
        except Exception:  # noqa: BLE001 - not one of ours, or it gave up: not our end
            return
        if isinstance(hello, tuple) and hello and hello[0] == "probe":
            try:
                conn.send("OK")
            except OSError:
                pass
            conn.close()
            return
        self.incoming.append((conn, hello))
        self.wake()

    def close(self) -> None:
        self._stop_w.send(b"x")
        self._thread.join(timeout=5)
        for s in (self.sock, self._stop_r, self._stop_w, self.wake_r, self.wake_w):
            s.close()
        while self.incoming:
            self.incoming.popleft()[0].close()


# -- the trial process ---------------------------------------------------------------------
def _exit_when_orphaned(life_fd: int) -> None:
    """End this process when the Dask worker that started it is gone."""
    try:
        while os.read(life_fd, 1):
            pass
    except OSError:
        pass
    os._exit(1)


def _ignore(signum: int, frame: Any) -> None:
    pass


def main() -> None:
    # The worker decides when a trial ends (it lets running trials checkpoint when it is
    # asked to shut down), so the signals a terminal or a process manager sends to the
    # whole process group are not for this process. Handlers, not SIG_IGN: processes that
    # the trial starts must still get the default actions.
    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, _ignore)
    conn_fd, life_fd = int(sys.argv[1]), int(sys.argv[2])
    threading.Thread(target=_exit_when_orphaned, args=(life_fd,), daemon=True).start()
    from overtone.executors._worker import serve

    conn = Connection(socket.socket(fileno=conn_fd).detach())
    serve(conn)


if __name__ == "__main__":
    main()
