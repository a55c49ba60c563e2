"""Continuing an experiment: resume= in tune.run, Tuner.restore, after a kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from overtone import tune

TRAIN = textwrap.dedent(
    """
    import json, os, tempfile, time
    from overtone import tune

    def train(config):
        start = 0
        ckpt = tune.get_checkpoint()
        if ckpt is not None:
            with open(os.path.join(ckpt.path, "state.json")) as f:
                start = json.load(f)["step"]
        for step in range(start + 1, config["steps"] + 1):
            time.sleep(config["sleep"])
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "state.json"), "w") as f:
                    json.dump({"step": step}, f)
                tune.report({"step": step, "x": config["x"]},
                            checkpoint=tune.Checkpoint.from_directory(d))
    """
)

DRIVER = TRAIN + textwrap.dedent(
    """
    import sys
    tune.run(train, name="exp", storage_path=sys.argv[1], verbose=0,
             config={"x": tune.uniform(0, 1), "steps": 12, "sleep": float(sys.argv[2])},
             num_samples=4, seed=3, max_concurrent_trials=int(sys.argv[3]),
             resume=sys.argv[4] if sys.argv[4] != "none" else None)
    """
)


def _start(tmp_path, sleep, concurrency, resume="none"):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), str(sleep), str(concurrency), resume],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows(exp):
    state = json.loads((exp / "experiment_state.json").read_text())
    out = {}
    for t in state["trials"]:
        lines = (exp / t["dirname"] / "result.json").read_text().splitlines()
        out[t["trial_id"]] = (t["status"], [json.loads(x)["step"] for x in lines], t["config"])
    return out


def _kill_when(exp, predicate, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate(exp):
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _some_progress(exp):
    return sum(len(open(p).read().splitlines()) for p in exp.glob("*/result.json")) >= 7


def test_resume_after_kill_9_records_every_iteration_once(tmp_path):
    exp = tmp_path / "exp"
    proc = _start(tmp_path, 0.05, 2)
    _kill_when(exp, _some_progress, proc)
    # Workers notice the driver is gone and exit on their own.
    proc = _start(tmp_path, 0.0, 2, resume="AUTO")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    rows = _rows(exp)
    assert len(rows) == 4
    for status, steps, _ in rows.values():
        assert status == "TERMINATED"
        assert steps == list(range(1, 13))
    # The seeded sequence of configs is the one an uninterrupted run makes.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    proc = _start(fresh, 0.0, 2)
    proc.communicate(timeout=120)
    assert sorted(c["x"] for _, _, c in rows.values()) == sorted(
        c["x"] for _, _, c in _rows(fresh / "exp").values()
    )


def test_searcher_continues_without_repeating(tmp_path):
    exp = tmp_path / "exp"
    proc = _start(tmp_path, 0.05, 1)

    def two_trials_started(e):
        return len(json.loads((e / "experiment_state.json").read_text())["trials"]) >= 2

    _kill_when(exp, two_trials_started, proc)
    proc = _start(tmp_path, 0.0, 1, resume="LOCAL")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    rows = _rows(exp)
    xs = [c["x"] for _, _, c in rows.values()]
    assert len(xs) == 4 == len(set(xs))
    assert all(steps == list(range(1, 13)) for _, steps, _ in rows.values())


def failing(config):
    tune.report(v=1)
    if not os.path.exists(config["flag"]):
        raise RuntimeError("not yet")
    tune.report(v=2)


def test_resume_errored_only(tmp_path, executor):
    flag = tmp_path / "flag"
    tune.run(
        failing,
        name="e",
        config={"flag": str(flag), "i": tune.grid_search([1, 2])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        raise_on_failed_trial=False,
    )
    flag.write_text("ok")
    analysis = tune.run(
        failing,
        name="e",
        resume="ERRORED_ONLY",
        config={"flag": str(flag), "i": tune.grid_search([1, 2])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
    )
    assert len(analysis.trials) == 2
    assert all(str(t.status) == "TERMINATED" for t in analysis.trials)
    for t in analysis.trials:  # restarted from scratch: no duplicated rows
        lines = open(os.path.join(t.path, "result.json")).read().splitlines()
        assert [json.loads(x)["training_iteration"] for x in lines] == [1, 2]


def quick(config):
    for i in range(3):
        tune.report(loss=config["x"] + i)


def test_tuner_restore_continues_and_keeps_finished_trials(tmp_path, executor):
    grid = tune.Tuner(
        quick,
        param_space={"x": tune.grid_search([1, 2, 3])},
        run_config=tune.RunConfig(
            name="t", storage_path=str(tmp_path), verbose=0, executor=executor
        ),
    ).fit()
    assert grid.num_terminated == 3
    path = str(tmp_path / "t")
    assert tune.Tuner.can_restore(path)
    restored = tune.Tuner.restore(path, trainable=quick).fit()
    assert restored.num_terminated == 3
    assert sorted(r.config["x"] for r in restored) == [1, 2, 3]
    assert restored.get_best_result(metric="loss", mode="min").config == {"x": 1}


def test_restore_bad_paths_are_clear_errors(tmp_path):
    assert not tune.Tuner.can_restore(str(tmp_path))
    with pytest.raises(ValueError, match=str(tmp_path)):
        tune.Tuner.restore(str(tmp_path), trainable=quick)
    (tmp_path / "experiment_state.json").write_text('{"format_version": 1, "trials": [')
    with pytest.raises(ValueError, match="corrupted"):
        tune.Tuner.restore(str(tmp_path), trainable=quick)
    (tmp_path / "experiment_state.json").write_text('{"format_version": 99, "trials": []}')
    with pytest.raises(ValueError, match="99"):
        tune.Tuner.restore(str(tmp_path), trainable=quick)
    with pytest.raises(ValueError, match="holds no experiment"):
        tune.run(quick, name="nothing_here", resume=True, storage_path=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="resume is 'SOMETIMES'"):
        tune.run(quick, name="x", resume="SOMETIMES", storage_path=str(tmp_path), verbose=0)
