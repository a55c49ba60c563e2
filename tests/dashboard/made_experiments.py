"""Real experiments for the dashboard and CLI tests: finished (with errors and checkpoints),
ASHA, PBT, and one that runs in a subprocess until the test lets it end."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from overtone import tune
from overtone.executors import LocalExecutor
from overtone.schedulers import ASHAScheduler, PopulationBasedTraining

ROOT = Path(__file__).resolve().parents[2]


def _train(config: dict[str, Any], every: int = 4) -> None:
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        start = int(Path(checkpoint.path, "step").read_text())
    for i in range(start, 8):
        if config.get("fail") and i == 3:
            raise RuntimeError("boom on purpose")
        with tempfile.TemporaryDirectory() as d:
            Path(d, "step").write_text(str(i + 1))
            Path(d, "weights.bin").write_bytes(bytes([i]) * 64)
            tune.report(
                {"loss": config["lr"] * (8 - i) + config.get("b", 0), "acc": i / 8},
                checkpoint=tune.Checkpoint.from_directory(d) if i % every == every - 1 else None,
            )


def make_finished(root: Path) -> Path:
    """6 trials, 3 of them ERROR at iteration 3; checkpoints at iterations 4 and 8."""
    tune.run(
        _train,
        name="finished",
        storage_path=str(root),
        config={
            "lr": tune.grid_search([0.1, 0.2, 0.3]),
            "b": tune.choice([1, 2]),
            "fail": tune.grid_search([False, True]),
        },
        metric="loss",
        mode="min",
        verbose=0,
        seed=3,
        raise_on_failed_trial=False,
        executor=LocalExecutor(num_cpus=2, num_gpus=0),
    )
    return root / "finished"


def make_asha(root: Path, name: str = "asha") -> Path:
    """12 trials under ASHA: several stopped at rungs 1, 2 and 4."""
    tune.run(
        _train,
        name=name,
        storage_path=str(root),
        config={"lr": tune.uniform(0.01, 1.0)},
        num_samples=12,
        metric="loss",
        mode="min",
        scheduler=ASHAScheduler(max_t=8, grace_period=1, reduction_factor=2),
        verbose=0,
        seed=5,
        executor=LocalExecutor(num_cpus=2, num_gpus=0),
    )
    return root / name


def _train_pbt(config: dict[str, Any]) -> None:
    _train(config, every=1)  # PBT clones the latest checkpoint


def make_pbt(root: Path) -> Path:
    """4 trials in lockstep under PBT: exploits every 2 iterations."""
    tune.run(
        _train_pbt,
        name="pbt",
        storage_path=str(root),
        config={"lr": tune.grid_search([0.1, 0.4, 0.7, 1.0])},
        metric="loss",
        mode="min",
        scheduler=PopulationBasedTraining(
            time_attr="training_iteration",
            perturbation_interval=2,
            hyperparam_mutations={"lr": tune.uniform(0.01, 1.0)},
            synch=True,
        ),
        verbose=0,
        seed=7,
        executor=LocalExecutor(num_cpus=2, num_gpus=0),
    )
    return root / "pbt"


RUNNING_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from overtone import tune
    from overtone.executors import LocalExecutor
    from overtone.schedulers import ASHAScheduler

    stop_file = sys.argv[2]

    def train(config):
        for i in range(2000):
            if os.path.exists(stop_file):
                return
            time.sleep(0.25)
            tune.report({"loss": config["lr"] / (i + 1)})

    tune.run(
        train,
        name="running",
        storage_path=sys.argv[1],
        config={"lr": tune.grid_search([0.5, 1.0])},
        metric="loss",
        mode="min",
        scheduler=ASHAScheduler(max_t=2000, grace_period=1, reduction_factor=2),
        verbose=0,
        executor=LocalExecutor(num_cpus=2, num_gpus=0),
    )
    """
)


class RunningExperiment:
    """An ASHA experiment in a subprocess that reports every 0.25 s until :meth:`finish`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "running"
        self.stop_file = root.parent / f"{root.name}-stop"
        script = root.parent / f"{root.name}-running.py"
        script.write_text(RUNNING_SCRIPT)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(root), str(self.stop_file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_for_results(self, count: int = 2, timeout: float = 60.0) -> None:
        """Until a trial has ``count`` results (ASHA soon stops the worse one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                state = json.loads((self.path / "experiment_state.json").read_text())
                dirs = [self.path / t["dirname"] for t in state["trials"]]
                lines = [len((d / "result.json").read_text().splitlines()) for d in dirs]
                if lines and max(lines) >= count:
                    return
            except (OSError, ValueError, KeyError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the experiment ended: {self.proc.stderr.read().decode()}")
            time.sleep(0.1)
        raise TimeoutError("the running experiment reported nothing in time")

    def finish(self) -> None:
        self.stop_file.write_text("")
        try:
            self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stderr.close()


def journal(trial_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]


def state_of(experiment: Path) -> dict[str, Any]:
    return json.loads((experiment / "experiment_state.json").read_text())


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, parsed JSON or raw bytes) of a GET."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body, kind = (
                response.status,
                response.read(),
                response.headers.get("content-type", ""),
            )
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers.get("content-type", "")
    if kind.startswith("application/json"):
        return status, json.loads(body)
    return status, body


def shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on loopback; yields its endpoint."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on {endpoint}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
