"""Experiments for the command-line tests, a real S3 server, and ``python -m overtone``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
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


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on loopback; its endpoint URL."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    with made.moto_server() as endpoint:
        yield endpoint
