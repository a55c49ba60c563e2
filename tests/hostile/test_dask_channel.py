"""Strangers on the Dask channel: silent and slow connections to the driver's listener, a
fake driver without the key, and TLS with the cluster's own certificates."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import threading
import time

import pytest

from overtone import tune

distributed = pytest.importorskip("distributed", reason="needs: pip install 'overtone[dask]'")

from dask_procs import DaskCluster  # noqa: E402

from overtone.executors import DaskExecutor  # noqa: E402
from overtone.executors import _dask_channel as channel  # noqa: E402
from overtone.executors._dask_task import probe  # noqa: E402


def quick(config):
    time.sleep(config.get("sleep", 0.0))
    tune.report(x=config["x"])


def _shape(config):
    return {"cpu": 1 if config["x"] % 2 else 0.5}


@pytest.fixture(scope="module")
def cluster():
    cluster = DaskCluster()
    try:
        cluster.add_worker("CPU=1")
        cluster.add_worker("CPU=1")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()


class _Attacker:
    """Opens silent connections to an address, and one that sends a byte every 0.3 s, and
    keeps opening silent ones until stopped."""

    def __init__(self, address: str, silent: int) -> None:
        self.host, self.port = channel.parse_address(address)
        self.socks = [self._open() for _ in range(silent)]
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._drip, daemon=True),
            threading.Thread(target=self._flood, daemon=True),
        ]
        for t in self.threads:
            t.start()

    def _open(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=5)

    def _drip(self) -> None:
        while not self.stop.is_set():
            try:
                with self._open() as s:
                    while not self.stop.wait(0.3):
                        s.sendall(b"x")
            except OSError:
                pass  # cut off by the listener: come back

    def _flood(self) -> None:
        while not self.stop.wait(0.05):
            try:
                self.socks.append(self._open())
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()
        for s in self.socks:
            s.close()


def test_silent_and_dripping_connections_do_not_keep_workers_out(cluster, tmp_path, monkeypatch):
    attackers: list[_Attacker] = []
    listeners: list[channel.Listener] = []
    original = channel.Listener.__init__

    def attacked(self, *args, **kwargs):
        original(self, *args, **kwargs)
        listeners.append(self)
        # More silent strangers than the listener keeps pending, before any worker knocks.
        attackers.append(_Attacker(self.address, silent=getattr(channel, "MAX_PENDING", 64) + 16))

    monkeypatch.setattr(channel.Listener, "__init__", attacked)
    try:
        # Two shapes of trial, one after the other: slots end and new ones connect mid-run,
        # while the strangers keep coming.
        analysis = tune.run(
            tune.with_resources(quick, _shape),
            config={"x": tune.grid_search(list(range(6))), "sleep": 0.3},
            max_concurrent_trials=1,
            storage_path=str(tmp_path),
            verbose=0,
            executor=DaskExecutor(cluster.address),
        )
    finally:
        for a in attackers:
            a.close()
    assert sorted(t.last_result["x"] for t in analysis.trials) == list(range(6))
    assert all(t.status == "TERMINATED" for t in analysis.trials)
    stats = listeners[0].stats
    assert stats["pushed_out"] + stats["timed_out"] >= 16, stats
    # the probes, then at least two slots: the second connected after the first trial ended
    assert stats["accepted"] >= 2 + 2, stats


def _silent_server():
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return server, held


def test_the_error_says_the_listener_was_reached_but_did_not_answer(tmp_path):
    server, held = _silent_server()
    marker, token = "marker", "t"
    (tmp_path / marker).write_text(token)
    key = os.urandom(32)
    try:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        (problem,) = probe(str(tmp_path), marker, token, address, key)
    finally:
        server.close()
        for s in held:
            s.close()
    assert "was reached" in problem and "driver_host" not in problem, problem

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    address = f"127.0.0.1:{free.getsockname()[1]}"  # bound, not listening: refused
    try:
        (problem,) = probe(str(tmp_path), marker, token, address, key)
    finally:
        free.close()
    assert "driver_host" in problem, problem


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_fake_driver_without_the_key_is_refused_before_anything_is_unpickled(tmp_path):
    """A stranger listening where a task expects its driver sends a challenge and then a
    pickle that writes a file when loaded: the task must refuse it, unread."""
    pwned = tmp_path / "pwned"
    server = socket.create_server(("127.0.0.1", 0))
    payload = pickle.dumps(_Evil(str(pwned)))

    def fake_driver():
        sock, _ = server.accept()
        with sock:
            sock.sendall(os.urandom(channel.CHALLENGE_BYTES))
            sock.settimeout(5)
            try:
                sock.recv(4096)  # whatever the task answers: the fake cannot check it
                sock.sendall(struct.pack("!i", len(payload)) + payload)  # a Connection message
                sock.recv(1)
            except OSError:
                pass

    thread = threading.Thread(target=fake_driver, daemon=True)
    thread.start()
    (tmp_path / "marker").write_text("t")
    try:
        problems = probe(
            str(tmp_path), "marker", "t", f"127.0.0.1:{server.getsockname()[1]}", os.urandom(32)
        )
    finally:
        server.close()
        thread.join(10)
    assert not pwned.exists()
    (problem,) = problems
    assert "did not prove that it holds this experiment's key" in problem, problem


def test_the_channel_uses_tls_when_the_dask_client_does(tmp_path, monkeypatch):
    pytest.importorskip("cryptography", reason="Security.temporary() needs cryptography")
    from distributed import Client, LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    listeners: list[channel.Listener] = []
    plaintext: list[BaseException] = []
    original = channel.Listener.__init__

    def recorded(self, *args, **kwargs):
        original(self, *args, **kwargs)
        listeners.append(self)
        # A peer that speaks the protocol in the clear, even with the key, gets nowhere.
        try:
            plain = self.address.removeprefix("tls://")
            channel.connect(plain, self.authkey, ("probe", "test"), 2.0).close()
        except Exception as exc:  # noqa: BLE001
            plaintext.append(exc)

    monkeypatch.setattr(channel.Listener, "__init__", recorded)
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            security=security,
            dashboard_address=":0",
            host="127.0.0.1",
        ) as cluster,
        Client(cluster, security=security) as client,
    ):
        analysis = tune.run(
            quick,
            config={"x": tune.grid_search([1, 2, 3])},
            storage_path=str(tmp_path),
            verbose=0,
            executor=DaskExecutor(client=client),
        )
    assert sorted(t.last_result["x"] for t in analysis.trials) == [1, 2, 3]
    assert listeners[0].address.startswith("tls://")
    assert len(plaintext) == 1 and isinstance(plaintext[0], channel.HandshakeError)
