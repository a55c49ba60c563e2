"""The wires of the Dask executor: the task's connection to the driver, and trial processes.

Each trial's Dask task opens one TCP connection to a small listener in the driver. Both ends
prove that they hold a random key that only the driver and its tasks know, before either
unpickles anything the other sent:

    driver -> task: 16 random bytes (the driver's challenge C1)
    task -> driver: HMAC-SHA256(key, "task" + C1 + C2), C2 (the task's 16-byte challenge),
                    then one length-prefixed pickled hello:
                    ("slot", slot_id, worker_address, pid, wants_trainable)
                    or ("probe", where)
    driver -> task: HMAC-SHA256(key, "driver" + C1 + C2) (only after the task's proof checked
                    out), then "OK" or "REJECT" (a multiprocessing ``Connection`` message),
                    then, if the task wants it, the pickled trainable (a bytes message): each
                    worker process asks for it once per experiment

When the Dask client uses TLS (``distributed.Security`` with certificates), the connection is
TLS too, with the cluster's own certificates: the driver listens with the client's
certificate, tasks connect with their worker's, and each end requires the other's to be
signed by the cluster's CA. The listener's address then starts with ``tls://``. Without TLS
the key authenticates both ends, but what they send (configs, results, the trainable) is not
encrypted.

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

The driver's end is :class:`Listener`: a thread that only accepts connections; each
handshake runs in a thread of its own under one deadline for the whole handshake, and at
most ``MAX_PENDING`` unauthenticated connections are kept (a new one pushes out the oldest),
so that silent or slow strangers can never keep the tasks out. Checked connections are handed
to the driver's loop, which is woken through a socket pair.

This module imports nothing from Dask at import time: trial processes load it first.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import select
import selectors
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from overtone.executors._process import exit_at_eof

# Linux can fail a connection whose data stays unacknowledged too long: the sign that the
# peer's machine is gone or cut off, which a busy peer never shows.
HAS_USER_TIMEOUT = hasattr(socket, "TCP_USER_TIMEOUT")
CHALLENGE_BYTES = 16
HANDSHAKE_TIMEOUT_S = 10.0  # for the whole handshake, however the peer spreads its bytes
MAX_PENDING = 64  # unauthenticated connections the listener keeps at once
_MAC_BYTES = hashlib.sha256().digest_size
_MAX_HELLO = 1 << 16
_TLS = "tls://"


class HandshakeError(ConnectionError):
    """The peer was reached but the handshake failed (a wrong key, a stranger, silence)."""


def _mac(authkey: bytes, role: bytes, c1: bytes, c2: bytes) -> bytes:
    return hmac.new(authkey, role + c1 + c2, hashlib.sha256).digest()


def _recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    chunks = []
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the handshake took too long")
            sock.settimeout(left)
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("the peer closed the connection during the handshake")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def parse_address(address: str) -> tuple[str, int]:
    """``"host:port"`` (IPv6 hosts in brackets, optionally ``tls://``) to (host, port)."""
    host, _, port = address.removeprefix(_TLS).rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address is {address!r}, but must look like 'host:port'")
    return host.strip("[]"), int(port)


def uses_tls(address: str) -> bool:
    return address.startswith(_TLS)


def worker_tls(address: str, worker: Any) -> ssl.SSLContext | None:
    """The TLS context a task on ``worker`` uses to reach the listener at ``address`` (None
    when the listener does not use TLS): the Dask worker's own certificates."""
    if not uses_tls(address):
        return None
    security = getattr(worker, "security", None)
    ctx = security.get_connection_args("worker").get("ssl_context") if security else None
    if ctx is None:
        raise ValueError(
            f"the driver's listener at {address} uses TLS (its Dask client has TLS "
            "certificates), but this Dask worker has none: give the workers the cluster's "
            "certificates (distributed.Security, or the distributed.comm.tls settings)"
        )
    return ctx  # type: ignore[no-any-return]


def listen_tls(security: Any) -> ssl.SSLContext | None:
    """The listener's TLS context from the Dask client's ``distributed.Security``: the
    client's certificate, requiring the workers' to be signed by the cluster's CA. None when
    the client uses no TLS."""
    if security is None:
        return None
    return security.get_listen_args("client").get("ssl_context")  # type: ignore[no-any-return]


def connect(
    address: str,
    authkey: bytes,
    hello: tuple[Any, ...],
    timeout: float,
    send_timeout: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Connection:
    """Open a mutually authenticated connection to the driver and send ``hello``.

    The caller then reads the driver's "OK" or "REJECT": the driver has proved by then that
    it holds the key, so the message is safe to unpickle. With ``send_timeout``, the
    connection fails when what it sent stays unacknowledged that long (where the system
    offers ``TCP_USER_TIMEOUT``), and a send that cannot go out that long fails: the network
    to the driver is down. A driver that is only busy still acknowledges.

    Raises ``OSError`` when the listener cannot be reached, ``HandshakeError`` when it was
    reached but the handshake failed or did not end within ``timeout`` seconds.
    """
    if uses_tls(address) and ssl_context is None:
        raise HandshakeError(f"the driver's listener at {address} needs a TLS context")
    sock = socket.create_connection(parse_address(address), timeout=timeout)
    deadline = time.monotonic() + timeout
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if send_timeout is not None and HAS_USER_TIMEOUT:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(send_timeout * 1000))
        try:
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock)
            c1 = _recv_exact(sock, CHALLENGE_BYTES, deadline)
            c2 = os.urandom(CHALLENGE_BYTES)
            payload = pickle.dumps(hello)
            sock.sendall(
                _mac(authkey, b"task", c1, c2) + c2 + struct.pack("!i", len(payload)) + payload
            )
            proof = _recv_exact(sock, _MAC_BYTES, deadline)
        except (TimeoutError, ConnectionError, ssl.SSLError) as exc:
            raise HandshakeError(
                f"the listener at {address} accepted the connection, but the handshake "
                f"failed: {exc or type(exc).__name__}"
            ) from exc
        if not hmac.compare_digest(proof, _mac(authkey, b"driver", c1, c2)):
            raise HandshakeError(
                f"the process listening at {address} did not prove that it holds this "
                "experiment's key: it is not this experiment's driver"
            )
        sock.settimeout(None)
        if ssl_context is not None:
            return _pumped(sock, send_timeout)  # type: ignore[arg-type]
        if send_timeout is not None:
            set_send_timeout(sock, send_timeout)
    except BaseException:
        sock.close()
        raise
    return Connection(sock.detach())


def unreachable(address: str, where: str, exc: BaseException) -> str:
    """What a task says when it cannot connect to the listener at ``address``: only a
    listener that cannot be reached at all is blamed on ``driver_host``."""
    if isinstance(exc, HandshakeError):
        return (
            f"the driver's listener at {address} was reached {where}, but {exc} (the "
            "address is right: the driver did not complete the handshake in time, or "
            "another process answers on that port)"
        )
    return (
        f"the driver's listener at {address} is not reachable {where} ({exc}): pass "
        "DaskExecutor(driver_host=...) an address of this machine that the workers can reach"
    )


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
    sock: socket.socket,
    authkey: bytes,
    timeout: float,
    send_timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[Connection, Any]:
    """Check a new connection's answer to a challenge, prove that we hold the key too;
    return the connection with its hello. The whole handshake gets ``timeout`` seconds
    (the caller must also be able to cut it short: see :class:`Listener`).

    A send on the returned connection fails when it makes no progress for
    ``send_timeout`` seconds, so that a worker gone silent cannot block the driver.

    Raises ``ConnectionError`` for a peer that does not know the key: nothing it sent is
    unpickled.
    """
    deadline = time.monotonic() + timeout
    try:
        sock.settimeout(timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_side=True)
        c1 = os.urandom(CHALLENGE_BYTES)
        sock.sendall(c1)
        answer = _recv_exact(sock, _MAC_BYTES, deadline)
        c2 = _recv_exact(sock, CHALLENGE_BYTES, deadline)
        if not hmac.compare_digest(answer, _mac(authkey, b"task", c1, c2)):
            raise ConnectionError("a connection answered the challenge with the wrong key")
        (size,) = struct.unpack("!i", _recv_exact(sock, 4, deadline))
        if not 0 < size <= _MAX_HELLO:
            raise ConnectionError(f"a hello of {size} bytes, but at most {_MAX_HELLO} are allowed")
        data = _recv_exact(sock, size, deadline)
        sock.sendall(_mac(authkey, b"driver", c1, c2))
        hello = pickle.loads(data)
        sock.settimeout(None)
        if ssl_context is not None:
            return _pumped(sock, send_timeout), hello  # type: ignore[arg-type]
        set_send_timeout(sock, send_timeout)
    except BaseException:
        sock.close()
        raise
    return Connection(sock.detach()), hello


# -- TLS under a plain Connection ------------------------------------------------------
_PUMP_BUFFER = 1 << 20


def _pumped(tls: ssl.SSLSocket, send_timeout: float | None) -> Connection:
    """A ``Connection`` whose bytes a thread carries over ``tls``.

    ``Connection`` reads and writes its file descriptor directly, which TLS cannot allow,
    and the code above it waits on that descriptor: so it gets one end of a socket pair,
    and a thread moves the bytes between the other end and the TLS socket.
    """
    app, plain = socket.socketpair()
    if send_timeout is not None:
        set_send_timeout(app, send_timeout)
    threading.Thread(
        target=_pump, args=(tls, plain), name="overtone-dask-tls", daemon=True
    ).start()
    return Connection(app.detach())


def _pump(tls: ssl.SSLSocket, plain: socket.socket) -> None:
    """Move bytes both ways until either side ends (then end the other side too)."""
    tls.setblocking(False)
    plain.setblocking(False)
    to_plain, to_tls = bytearray(), bytearray()
    tls_open = plain_open = True
    poller = select.poll()
    try:
        while (tls_open or to_plain) and (plain_open or to_tls):
            moved = False
            if tls_open and len(to_plain) < _PUMP_BUFFER:
                try:
                    while len(to_plain) < _PUMP_BUFFER:
                        data = tls.recv(65536)
                        if not data:
                            tls_open = False
                            break
                        to_plain += data
                        moved = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                except OSError:
                    tls_open = False
            if to_plain:
                try:
                    n = plain.send(to_plain)
                    del to_plain[:n]
                    moved = True
                except BlockingIOError:
                    pass
                except OSError:
                    return
            if plain_open and len(to_tls) < _PUMP_BUFFER:
                try:
                    data = plain.recv(65536)
                    if data:
                        to_tls += data
                        moved = True
                    else:
                        plain_open = False
                except BlockingIOError:
                    pass
                except OSError:
                    plain_open = False
            if to_tls:
                try:
                    n = tls.send(to_tls[:65536])
                    del to_tls[:n]
                    moved = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                except OSError:
                    return
            if moved or (tls_open and tls.pending()):
                continue
            room_in, room_out = len(to_plain) < _PUMP_BUFFER, len(to_tls) < _PUMP_BUFFER
            tls_events = (select.POLLIN if tls_open and room_in else 0) | (
                select.POLLOUT if to_tls else 0
            )
            plain_events = (select.POLLIN if plain_open and room_out else 0) | (
                select.POLLOUT if to_plain else 0
            )
            for obj, events in ((tls, tls_events), (plain, plain_events)):
                if events:
                    poller.register(obj, events)
                else:
                    try:
                        poller.unregister(obj)
                    except KeyError:
                        pass
            poller.poll()
    finally:
        plain.close()
        tls.close()


# -- the driver's end ------------------------------------------------------------------
class Listener:
    """Accepts the tasks' connections in a thread; hands each checked one to the driver.

    Each handshake runs in its own thread, so a silent or slow peer holds only itself up:
    after ``handshake_timeout`` seconds in all, or when ``max_pending`` newer connections
    wait behind it, its connection is shut down. :attr:`stats` counts what happened, for
    the error messages.
    """

    def __init__(
        self,
        host: str,
        port: int,
        authkey: bytes,
        security: Any = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT_S,
        max_pending: int = MAX_PENDING,
    ) -> None:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.sock = socket.create_server((host, port), family=family, backlog=256)
        self.ssl_context = listen_tls(security)
        port = self.sock.getsockname()[1]
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if self.ssl_context is not None:
            self.address = _TLS + self.address
        self.authkey = authkey
        self.handshake_timeout = handshake_timeout
        self.max_pending = max_pending
        self.incoming: deque[tuple[Connection, Any]] = deque()
        self.stats = {"accepted": 0, "refused": 0, "timed_out": 0, "pushed_out": 0}
        self._pending: dict[int, tuple[socket.socket, float]] = {}  # id -> (dup, deadline)
        self._pending_lock = threading.Lock()
        self._next_id = 0
        self._closed = False
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
                ready = [key.fileobj for key, _ in selector.select(self._expire())]
                if self._stop_r in ready:
                    return
                if self.sock in ready:
                    self._accept_one()

    def _expire(self) -> float | None:
        """Shut down the handshakes past their deadline; seconds until the next one's."""
        now = time.monotonic()
        with self._pending_lock:
            late = [i for i, (_, deadline) in self._pending.items() if deadline <= now]
            for i in late:
                self._cut(i, "timed_out")
            deadlines = [deadline for _, deadline in self._pending.values()]
        return max(0.0, min(deadlines) - now) + 0.01 if deadlines else None

    def _cut(self, i: int, why: str) -> None:
        """Shut a pending handshake's connection down (its thread then ends); the caller
        holds the lock."""
        watch, _ = self._pending.pop(i)
        self.stats[why] += 1
        try:
            watch.shutdown(socket.SHUT_RDWR)  # a shutdown reaches every copy of the socket
        except OSError:
            pass
        watch.close()

    def _accept_one(self) -> None:
        try:
            sock, _ = self.sock.accept()
        except OSError:
            return
        with self._pending_lock:
            while len(self._pending) >= self.max_pending:
                self._cut(next(iter(self._pending)), "pushed_out")  # the oldest
            i = self._next_id
            self._next_id += 1
            self._pending[i] = (sock.dup(), time.monotonic() + self.handshake_timeout)
        threading.Thread(
            target=self._handshake, args=(i, sock), name="overtone-dask-handshake", daemon=True
        ).start()

    def _handshake(self, i: int, sock: socket.socket) -> None:
        try:
            conn, hello = accept(
                sock, self.authkey, timeout=self.handshake_timeout, ssl_context=self.ssl_context
            )
        except Exception as exc:  # noqa: BLE001 - not one of ours, or it gave up: not our end
            with self._pending_lock:
                if i in self._pending:
                    self._cut(i, "timed_out" if isinstance(exc, TimeoutError) else "refused")
            return
        with self._pending_lock:
            if i not in self._pending or self._closed:
                conn.close()  # cut short while it finished: too late
                return
            watch, _ = self._pending.pop(i)
            watch.close()
            self.stats["accepted"] += 1
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
        with self._pending_lock:
            self._closed = True
            for i in list(self._pending):
                self._cut(i, "refused")
        for s in (self.sock, self._stop_r, self._stop_w, self.wake_r, self.wake_w):
            s.close()
        while self.incoming:
            self.incoming.popleft()[0].close()


# -- the trial process ---------------------------------------------------------------------
def _ignore(signum: int, frame: Any) -> None:
    pass


def _serve_trials(conn_fd: int, life_fd: int) -> None:
    # The worker decides when a trial ends (it lets running trials checkpoint when it is
    # asked to shut down), so the signals a terminal or a process manager sends to the
    # whole process group are not for this process. Handlers, not SIG_IGN: processes that
    # the trial starts must still get the default actions.
    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, _ignore)
    exit_at_eof(life_fd)  # the Dask worker that started it is gone
    from overtone.executors._worker import serve

    serve(Connection(conn_fd))


def main() -> None:
    _serve_trials(int(sys.argv[1]), int(sys.argv[2]))


def forked_main(fds: list[int]) -> None:
    """A trial process forked by the Dask worker's fork server (``_forkserver``)."""
    _serve_trials(fds[0], fds[1])
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
