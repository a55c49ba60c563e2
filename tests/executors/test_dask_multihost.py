"""Several hosts: Dask workers in network namespaces of their own, each with its own address
on a private bridge, and the driver and scheduler in the root namespace.

The test builds the network itself (a bridge with a /24 from 192.168.x.0, one veth pair per
namespace) and removes it in a ``finally`` block. Traffic stays between these addresses. It
skips, saying why, where the machine does not allow network namespaces.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time

import pytest

from overtone import tune

pytest.importorskip("distributed", reason="needs: pip install 'overtone[dask]'")

from dask_procs import DaskCluster  # noqa: E402

from overtone.executors import DaskExecutor  # noqa: E402

STEPS = 30


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


def _free_subnet() -> str:
    routes = _ip("-4", "route", "show", "table", "all").stdout
    for third in range(200, 250):
        prefix = f"192.168.{(third + os.getpid()) % 50 + 200}"
        if f"{prefix}." not in routes:
            return prefix
    pytest.skip("no free 192.168.x.0/24 subnet for the test network")


class Network:
    """A bridge in the root namespace and ``n`` namespaces plugged into it."""

    def __init__(self, n: int) -> None:
        tag = f"{os.getpid() % 100000}"
        self.bridge = f"otb{tag}"
        self.prefix = _free_subnet()
        self.host_ip = f"{self.prefix}.1"
        self.namespaces = [f"otns{tag}{chr(97 + i)}" for i in range(n)]
        self.ips = [f"{self.prefix}.{i + 2}" for i in range(n)]
        self._veths = [f"otv{tag}{chr(97 + i)}" for i in range(n)]
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for ns, veth, ip in zip(self.namespaces, self._veths, self.ips):
                _ip("netns", "add", ns)
                _ip("link", "add", veth, "type", "veth", "peer", "name", f"{veth}p")
                _ip("link", "set", f"{veth}p", "netns", ns)
                _ip("link", "set", veth, "master", self.bridge, "up")
                _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", f"{veth}p")
                _ip("-n", ns, "link", "set", f"{veth}p", "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            self.remove()
            detail = getattr(exc, "stderr", "") or str(exc)
            pytest.skip(f"this machine does not allow network namespaces: {detail.strip()}")

    def cut(self, ns: str) -> None:
        """Pull the namespace's cable: its packets go nowhere, no connection closes."""
        i = self.namespaces.index(ns)
        _ip("-n", ns, "link", "set", f"{self._veths[i]}p", "down")

    def inode(self, ns: str) -> int:
        return os.stat(f"/run/netns/{ns}").st_ino

    def remove(self) -> None:
        for ns, veth in zip(self.namespaces, self._veths):
            _ip("link", "del", veth, check=False)
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", self.bridge, check=False)


@pytest.fixture
def network():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    net = Network(2)
    try:
        yield net
    finally:
        net.remove()


def counts(config):
    """Counts with a checkpoint per step; reports the network namespace it runs in, and
    notes each step it executes (with when, and where) in a file beside the experiment."""
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with open(os.path.join(ckpt.path, "state.json")) as f:
            start = json.load(f)["step"]
    netns = os.stat("/proc/self/ns/net").st_ino
    log = os.path.join(config["dir"], f"executed-{tune.get_context().get_trial_id()}.txt")
    for step in range(start + 1, config["steps"] + 1):
        time.sleep(config["sleep"])
        with open(log, "a") as f:
            f.write(f"{step} {netns} {time.time()}\n")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report(
                {"step": step, "netns": netns}, checkpoint=tune.Checkpoint.from_directory(d)
            )


class CutsTheCable(tune.Callback):
    """At a trial's step 3, the namespace (machine) running it drops off the network."""

    def __init__(self, network: Network) -> None:
        self.network, self.cut = network, None

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if self.cut is None and result["step"] == 3:
            self.cut = next(
                ns for ns in self.network.namespaces if self.network.inode(ns) == result["netns"]
            )
            self.network.cut(self.cut)


def rows(trial) -> list[dict]:
    with open(os.path.join(trial.path, "result.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_trials_run_on_workers_on_other_hosts_and_survive_one_dropping_off(tmp_path, network):
    cluster = DaskCluster(host=network.host_ip)
    try:
        for ns, ip in zip(network.namespaces, network.ips):
            cluster.add_worker("CPU=1", host=ip, prefix=["ip", "netns", "exec", ns])
        workers = cluster.wait_for_workers(2)
        assert sorted(w.split("//")[1].rsplit(":", 1)[0] for w in workers) == network.ips

        cutter = CutsTheCable(network)
        executor = DaskExecutor(cluster.address, heartbeat_timeout=3)
        start = time.monotonic()
        analysis = tune.run(
            counts,
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
            callbacks=[cutter],
            max_failures=2,
            config={
                "steps": STEPS,
                "sleep": 0.1,
                "dir": str(tmp_path),
                "t": tune.grid_search([0, 1]),
            },
        )
        elapsed = time.monotonic() - start
    finally:
        cluster.close(graceful=False)  # a worker cut off the network cannot close cleanly
    assert elapsed < 30

    hosts = {network.inode(ns): ns for ns in network.namespaces}
    driver_netns = os.stat("/proc/self/ns/net").st_ino
    for trial in analysis.trials:
        assert str(trial.status) == "TERMINATED"
        assert [r["training_iteration"] for r in rows(trial)] == list(range(1, STEPS + 1))
        assert all(r["netns"] in hosts and r["netns"] != driver_netns for r in rows(trial))
    # Both hosts ran trials; the one cut off lost its trial, which finished on the other.
    assert {r["netns"] for t in analysis.trials for r in rows(t)} == set(hosts)
    (moved,) = [t for t in analysis.trials if t.num_failures]
    with open(os.path.join(moved.path, "error.txt")) as f:
        assert "no word from the worker" in f.read()
    after = [r["netns"] for r in rows(moved) if r["step"] > 3]
    assert after and all(hosts[n] != cutter.cut for n in after[-3:])
    # No split brain: the copy cut off from the driver was stopped before it finished, and
    # before its restarted copy ran a single step.
    lines = (tmp_path / f"executed-{moved.trial_id}.txt").read_text().split("\n")
    runs = [(int(a), hosts[int(b)], float(c)) for a, b, c in (x.split() for x in lines if x)]
    cut_off = [(step, when) for step, host, when in runs if host == cutter.cut]
    restarted = [(step, when) for step, host, when in runs if host != cutter.cut]
    assert max(step for step, _ in cut_off) < STEPS
    assert max(when for _, when in cut_off) < min(when for _, when in restarted)
