"""WandbLoggerCallback and setup_wandb in W&B's offline mode, read back from the run files."""

from __future__ import annotations

import glob
import json
import os
import struct
import tempfile
import time
from importlib.util import find_spec

import pytest

from overtone import tune
from overtone.integrations.wandb import WandbLoggerCallback, setup_wandb

# wandb is imported lazily: the workers import this module to load its trainables.
pytestmark = pytest.mark.skipif(find_spec("wandb") is None, reason="needs wandb")


@pytest.fixture
def offline(tmp_path, monkeypatch) -> str:
    root = tmp_path / "wandb-root"
    root.mkdir()
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(root),
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_CONFIG_DIR": str(root / "config"),
        "WANDB_CACHE_DIR": str(root / "cache"),
        "WANDB_DATA_DIR": str(root / "data"),
        "WANDB_DISABLE_GIT": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    return str(root)


def read_run(root: str, run_id: str) -> dict:
    """The records of one offline run: its run record, config updates, history, exit.

    W&B's service may still be writing the file when ``finish()`` has returned: wait (a
    bounded time) for the exit record.
    """
    deadline = time.monotonic() + 15
    while True:
        run = _read_records(root, run_id)
        if run["exit"] is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def _read_records(root: str, run_id: str) -> dict:
    from wandb.proto import wandb_internal_pb2

    (path,) = glob.glob(os.path.join(root, "wandb", f"offline-run-*-{run_id}", "*.wandb"))
    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    # After a 7-byte header: LevelDB log blocks of 32 KiB, chunks of crc|length|type|data.
    records, pending, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            records.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            records.append(pending + chunk)
    out: dict = {"run": None, "config": {}, "history": [], "exit": None, "artifacts": []}
    for raw in records:
        record = wandb_internal_pb2.Record.FromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["run"] = record.run
            out["config"].update(
                {i.key: json.loads(i.value_json) for i in record.run.config.update}
            )
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            out["history"].append(
                {
                    "/".join(i.nested_key) if i.nested_key else i.key: json.loads(i.value_json)
                    for i in record.history.item
                }
            )
        elif kind == "exit":
            out["exit"] = record.exit.exit_code
        elif kind == "artifact":
            out["artifacts"].append(record.artifact.name)
    return out


def with_checkpoint(config):
    for step in range(1, 4):
        if config["x"] == 3 and step == 3:
            raise RuntimeError("trial 3 fails on purpose")
        metrics = {
            "loss": config["x"] / step,
            "eval": {"acc": step / 10, "f1": 0.5},
            "note": "text",
        }
        if step == 2:
            with tempfile.TemporaryDirectory() as d:
                open(os.path.join(d, "weights.txt"), "w").write(str(step))
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
        else:
            tune.report(metrics)


def test_a_run_per_trial_with_config_history_and_outcome(tmp_path, offline, executor):
    callback = WandbLoggerCallback(
        project="proj", excludes=["eval/f1"], log_config=True, upload_checkpoints=True
    )
    analysis = tune.run(
        with_checkpoint,
        name="exp",
        config={"x": tune.grid_search([1, 2, 3])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        raise_on_failed_trial=False,
        callbacks=[callback],
    )
    for trial in analysis.trials:
        x = trial.config["x"]
        run = read_run(offline, trial.trial_id)
        assert run["run"].run_id == trial.trial_id
        assert run["run"].display_name == trial.trial_name
        assert run["run"].run_group == "exp" and run["run"].project == "proj"
        assert run["config"]["x"] == x
        assert run["config"]["trial_id"] == trial.trial_id and "pid" in run["config"]
        steps = [1, 2, 3] if x != 3 else [1, 2]
        history = run["history"]
        assert [row["training_iteration"] for row in history] == steps
        assert [row["loss"] for row in history] == pytest.approx([x / s for s in steps])
        assert [row["eval/acc"] for row in history] == pytest.approx([s / 10 for s in steps])
        assert all(row["config/x"] == x for row in history)  # log_config
        for row in history:
            assert not {"eval/f1", "note", "pid", "done", "trial_id", "config"} & set(row)
        assert run["exit"] == (1 if x == 3 else 0)
        assert run["artifacts"] == [f"checkpoint_{trial.trial_name}"]


def inside(config):
    run = setup_wandb(config, project="inside")
    for step in range(1, 3):
        run.log({"inner": config["x"] * step})
        tune.report({"loss": 1.0 / step})


def test_setup_wandb_inside_the_trainable(tmp_path, offline, executor):
    analysis = tune.run(
        inside,
        name="exp",
        config={"x": tune.grid_search([1, 2])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    for trial in analysis.trials:
        run = read_run(offline, trial.trial_id)
        assert run["run"].display_name == trial.trial_name
        assert run["run"].run_group == "exp" and run["run"].project == "inside"
        assert run["config"]["x"] == trial.config["x"]
        assert [row["inner"] for row in run["history"]] == [trial.config["x"] * s for s in (1, 2)]
        assert run["exit"] == 0  # finished when the trial ended


def test_api_key_arguments(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    key_file = tmp_path / "key"
    key_file.write_text("0123456789abcdef\n")
    callback = WandbLoggerCallback(project="p", api_key_file=str(key_file))
    callback._ensure()
    assert os.environ["WANDB_API_KEY"] == "0123456789abcdef"
    with pytest.raises(ValueError, match="only one may be"):
        WandbLoggerCallback(api_key_file=str(key_file), api_key="x")._ensure()
    with pytest.warns(DeprecationWarning, match="upload_checkpoints"):
        assert WandbLoggerCallback(save_checkpoints=True).upload_checkpoints
    with pytest.raises(ValueError, match="upload_timeout is -1"):
        WandbLoggerCallback(upload_timeout=-1)
