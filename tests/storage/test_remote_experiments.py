"""Whole experiments on S3 (a real S3-compatible server on loopback) and memory://."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

pytest.importorskip("s3fs")

KEY, SECRET, BUCKET = "testing", "testing", "overtone-test"  # as the s3_endpoint fixture

from overtone import tune  # noqa: E402


def scored(config):
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        start = int(open(os.path.join(ckpt.path, "i")).read())
    scores = [5, 1, 9, 3, 7, 2]
    for i in range(start, len(scores)):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "i"), "w") as f:
                f.write(str(i + 1))
            tune.report({"score": scores[i]}, checkpoint=tune.Checkpoint.from_directory(d))


@pytest.fixture
def s3(s3_endpoint, monkeypatch, tmp_path):
    import s3fs

    monkeypatch.setenv("OVERTONE_STAGING_DIR", str(tmp_path / "staging"))
    return s3fs.S3FileSystem(
        endpoint_url=s3_endpoint, key=KEY, secret=SECRET, skip_instance_cache=True
    )


def test_experiment_on_s3_keeps_the_right_checkpoints_and_restores(s3, executor):
    run_config = tune.RunConfig(
        name="exp",
        storage_path=f"s3://{BUCKET}/runs",
        storage_filesystem=s3,
        verbose=0,
        executor=executor,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="score"),
    )
    grid = tune.Tuner(
        scored, param_space={"x": tune.grid_search([1, 2])}, run_config=run_config
    ).fit()
    assert grid.num_terminated == 2
    s3.invalidate_cache()
    root = f"{BUCKET}/runs/exp"
    state = json.loads(s3.cat_file(f"{root}/experiment_state.json"))
    assert {t["status"] for t in state["trials"]} == {"TERMINATED"}
    for trial in state["trials"]:
        names = {os.path.basename(p) for p in s3.ls(f"{root}/{trial['dirname']}")}
        # The best two by score (9 at 3, 7 at 5) and the latest (6), exactly.
        assert {n for n in names if n.startswith("checkpoint_")} == {
            "checkpoint_000003",
            "checkpoint_000005",
            "checkpoint_000006",
        }
        rows = s3.cat_file(f"{root}/{trial['dirname']}/result.json").decode().splitlines()
        assert [json.loads(r)["training_iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    # Restore straight from S3: everything is finished, nothing runs twice.
    path = f"s3://{BUCKET}/runs/exp"
    assert tune.Tuner.can_restore(path, storage_filesystem=s3)
    assert not tune.Tuner.can_restore(f"s3://{BUCKET}/runs/nothing", storage_filesystem=s3)
    again = tune.Tuner.restore(path, trainable=scored, storage_filesystem=s3).fit()
    assert again.num_terminated == 2
    assert max(r.metrics["training_iteration"] for r in again) == 6


def test_memory_storage_round_trip(tmp_path, monkeypatch, executor):
    import uuid

    monkeypatch.setenv("OVERTONE_STAGING_DIR", str(tmp_path / "staging"))
    base = f"memory://overtone/{uuid.uuid4().hex}"
    tune.run(scored, name="m", storage_path=base, verbose=0, executor=executor)
    import fsspec

    fs = fsspec.filesystem("memory")
    assert fs.exists(f"{base}/m/experiment_state.json".removeprefix("memory://"))
