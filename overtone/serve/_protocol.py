"""The wire between the front process and its replicas.

A replica opens one TCP connection to the front's replica listener. Both ends prove that
they know the serve session's random key (so neither accepts pickles from a stranger):

    front -> replica: 16 random bytes C1
    replica -> front: HMAC-SHA256(key, b"replica" + C1) and 16 random bytes C2
    front -> replica: HMAC-SHA256(key, b"front" + C2)

Then each side sends frames: a 4-byte big-endian length and a pickle.

    replica -> front: ("hello", replica_id, pid, hostname)   right after the handshake
                      ("ready", info)                        the predictor is loaded
                      ("failed", traceback_text)             it could not be loaded
                      ("result", batch_id, outcomes)         one outcome per request:
                                                             (True, json_bytes) or
                                                             (False, status, message)
    front -> replica: ("batch", batch_id, [instances, ...])  one list per request
                      ("stop",)                              finish and return
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import socket
import struct
from typing import Any

CHALLENGE_BYTES = 16
MAC_BYTES = hashlib.sha256().digest_size
HEADER = struct.Struct(">I")
HANDSHAKE_TIMEOUT_S = 10.0


def mac(key: bytes, role: bytes, challenge: bytes) -> bytes:
    return hmac.new(key, role + challenge, hashlib.sha256).digest()


def encode(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("the front closed the connection")
        buf += chunk
    return bytes(buf)


class ReplicaConnection:
    """The replica's end: a blocking socket that speaks the frames above."""

    def __init__(self, address: tuple[str, int], key: bytes) -> None:
        sock = socket.create_connection(address, timeout=HANDSHAKE_TIMEOUT_S)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            challenge = _recv_exact(sock, CHALLENGE_BYTES)
            mine = os.urandom(CHALLENGE_BYTES)
            sock.sendall(mac(key, b"replica", challenge) + mine)
            answer = _recv_exact(sock, MAC_BYTES)
            if not hmac.compare_digest(answer, mac(key, b"front", mine)):
                raise ConnectionError(f"the listener at {address} does not know the serve key")
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def send(self, message: Any) -> None:
        self.sock.sendall(encode(message))

    def recv(self) -> Any:
        (size,) = HEADER.unpack(_recv_exact(self.sock, HEADER.size))
        return pickle.loads(_recv_exact(self.sock, size))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
