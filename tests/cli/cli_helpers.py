"""Experiments for the command-line tests, a real S3 server, and ``python -m overtone``."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "cli_made_experiments", ROOT / "tests" / "dashboard" / "made_experiments.py"
)
made = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(made)

KEY, SECRET, BUCKET = "testing", "testing", "overtone-cli"


def overtone(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    """``python -m overtone ARGS`` in a subprocess; the completed process (text)."""
    return subprocess.run(
        [sys.executable, "-m", "overtone", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def results(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli") / "results"
    root.mkdir()
    return {"root": root, "finished": made.make_finished(root), "asha": made.make_asha(root)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on loopback; its endpoint URL."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    port = _free_port()
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
                    pytest.fail(f"moto server did not start on {endpoint}")
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
