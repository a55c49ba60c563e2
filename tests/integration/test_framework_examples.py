"""Every example under examples/frameworks runs, at its small size, as a user runs it.

Each is started as a subprocess with ``--smoke-test`` on scikit-learn's bundled data; the
tests then read the experiment it wrote. In CI (``CI`` set) a missing framework is a
failure, not a skip: the test extra installs them all.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "frameworks"


def need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing and os.environ.get("CI"):
        pytest.fail(f"{missing} not installed in CI: the 'test' extra must install them")
    if missing:
        pytest.skip(f"{missing} not installed")


def run_example(name: str, tmp_path: Path, *args: str, env: dict | None = None) -> str:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--smoke-test", "--storage-path", str(tmp_path)]
        + list(args),
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


def trials(experiment: Path) -> list[tuple[dict, list[dict]]]:
    state = json.loads((experiment / "experiment_state.json").read_text())
    out = []
    for trial in state["trials"]:
        folder = experiment / trial["dirname"]
        rows = [json.loads(line) for line in (folder / "result.json").read_text().splitlines()]
        out.append((trial, rows))
    return out


def test_pytorch_checkpoint_and_resume_under_asha(tmp_path):
    need("torch", "sklearn")
    out = run_example("pytorch_asha.py", tmp_path, "--crash-once")
    assert "best loss" in out
    runs = trials(tmp_path / "pytorch_asha")
    assert len(runs) == 4 and all(t["status"] == "TERMINATED" for t, _ in runs)
    lengths = sorted(len(rows) for _, rows in runs)
    assert lengths[0] < lengths[-1] == 4  # ASHA stopped some trials early, one ran all 4 epochs
    (crashed,) = [(t, rows) for t, rows in runs if t["num_failures"] == 1]
    epochs = [r["epoch"] for r in crashed[1]]
    assert epochs == list(range(len(epochs))) and len(epochs) >= 3  # resumed, not restarted
    assert all(r["device"] == "cpu" for _, rows in runs for r in rows)  # no GPU was given


def test_pytorch_population_based_training(tmp_path):
    need("torch", "sklearn")
    run_example("pytorch_pbt.py", tmp_path)
    runs = trials(tmp_path / "pytorch_pbt")
    exploited = [rows for _, rows in runs if len({r["lr"] for r in rows}) > 1]
    assert exploited, "no trial was exploited: PBT did nothing"
    for rows in exploited:
        # the exploiting trial went on from the copied checkpoint's epoch, not from zero
        assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    assert max(rows[-1]["accuracy"] for _, rows in runs) > 0.5


def test_lightning_callback(tmp_path):
    need("torch", "lightning")
    out = run_example("lightning_digits.py", tmp_path, "--crash-once")
    assert "restored a model" in out
    runs = trials(tmp_path / "lightning_digits")
    (crashed,) = [(t, rows) for t, rows in runs if t["num_failures"] == 1]
    # Lightning resumed from the checkpoint of epoch 0 (it crashed as epoch 1 began): epoch 1
    # was reported after the restart, and no epoch twice (ASHA may stop it after epoch 1)
    epochs = [r["epoch"] for r in crashed[1]]
    assert epochs == [float(e) for e in range(len(epochs))] and len(epochs) >= 2
    best = min(rows[-1]["loss"] for _, rows in runs)
    assert best < 1.0
    for _, rows in runs:
        assert all(r.get("checkpoint_dir_name") for r in rows)
        assert {"loss", "accuracy"} <= set(rows[0])


def test_keras_callback(tmp_path):
    need("keras", "torch")
    out = run_example("keras_digits.py", tmp_path, env={"KERAS_BACKEND": "torch"})
    reported, evaluated = out.split("best val loss: ")[1].split("; the checkpoint's model: ")
    assert float(reported) == pytest.approx(float(evaluated), abs=1e-3)
    for _, rows in trials(tmp_path / "keras_digits"):
        assert len(rows) == 3 and rows[-1]["loss"] < rows[0]["loss"]


def test_xgboost_example(tmp_path):
    need("xgboost")
    out = run_example("xgboost_breast_cancer.py", tmp_path)
    assert "its booster's accuracy" in out
    runs = trials(tmp_path / "xgboost_breast_cancer")
    # ASHA stops the best at max_t = 10 rounds, on the round whose checkpoint (frequency 5) is kept
    assert len(runs) == 4 and max(len(rows) for _, rows in runs) == 10


def test_lightgbm_example(tmp_path):
    need("lightgbm")
    out = run_example("lightgbm_breast_cancer.py", tmp_path)
    assert "its booster's accuracy" in out
    runs = trials(tmp_path / "lightgbm_breast_cancer")
    assert len(runs) == 4 and max(len(rows) for _, rows in runs) == 10


def test_sklearn_tune_search_cv_example(tmp_path):
    need("sklearn", "scipy")
    out = run_example("sklearn_tune_search_cv.py", tmp_path)
    accuracy = float(out.split("test accuracy of the refit pipeline: ")[1].split()[0])
    assert accuracy > 0.85
    epochs = json.loads(out.split("epochs per candidate: ")[1].split(" (of")[0])
    assert len(epochs) == 8 and max(epochs) == 6 and min(epochs) < 6  # some stopped early
    assert (tmp_path / "sgd_digits" / "experiment_state.json").exists()


def mxnet_python() -> str | None:
    """The MXNet virtualenv's python: $OVERTONE_MXNET_PYTHON, else .ci/run's .ci-mxnet-venv."""
    given = os.environ.get("OVERTONE_MXNET_PYTHON")
    candidate = Path(given) if given else ROOT / ".ci-mxnet-venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def test_mxnet_gluon_with_checkpoints_in_its_own_virtualenv(tmp_path):
    """MXNet 1.9.1 needs numpy<1.24: the example runs under the venv of
    .ci/mxnet-requirements.txt (built by .ci/run; by hand: python3 -m venv .ci-mxnet-venv &&
    .ci-mxnet-venv/bin/python -m pip install -r .ci/mxnet-requirements.txt)."""
    python = mxnet_python()
    if python is None:
        if os.environ.get("CI"):
            pytest.fail("CI must build .ci-mxnet-venv (see .ci/run) for the MXNet example")
        pytest.skip("no MXNet virtualenv (.ci-mxnet-venv or $OVERTONE_MXNET_PYTHON)")
    proc = subprocess.run(
        [python, str(EXAMPLES / "mxnet_gluon.py"), "--smoke-test", "--crash-once"]
        + ["--storage-path", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "best loss" in proc.stdout
    runs = trials(tmp_path / "mxnet_gluon")
    assert len(runs) == 4 and all(t["status"] == "TERMINATED" for t, _ in runs)
    (crashed,) = [(t, rows) for t, rows in runs if t["num_failures"] == 1]
    epochs = [r["epoch"] for r in crashed[1]]
    assert epochs == list(range(len(epochs))) and len(epochs) >= 3  # resumed from epoch 2
    assert all(r["device"] == "cpu(0)" for _, rows in runs for r in rows)
    best = min(rows[-1]["loss"] for _, rows in runs)
    assert best < 1.0
