"""SIGKILL the driver at a random moment, resume, and lose or repeat nothing."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

DRIVER = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
    from overtone import tune

    def train(config):
        start = 0
        ckpt = tune.get_checkpoint()
        if ckpt is not None:
            with open(os.path.join(ckpt.path, "s.json")) as f:
                start = json.load(f)["step"]
        for step in range(start + 1, 16):
            time.sleep(0.02)
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "s.json"), "w") as f:
                    json.dump({"step": step}, f)
                tune.report({"step": step}, checkpoint=tune.Checkpoint.from_directory(d))

    tune.run(train, name="exp", storage_path=sys.argv[1], verbose=0, resume="AUTO",
             config={"x": tune.grid_search([1, 2, 3])}, max_concurrent_trials=2,
             keep_checkpoints_num=2)
    """
)


def _recorded(exp):
    total = 0
    for path in exp.glob("*/result.json"):
        try:
            total += path.read_bytes().count(b"\n")
        except OSError:
            pass
    return total


def _check(exp):
    state = json.loads((exp / "experiment_state.json").read_text())
    assert len(state["trials"]) == 3
    for trial in state["trials"]:
        assert trial["status"] == "TERMINATED"
        lines = (exp / trial["dirname"] / "result.json").read_text().splitlines()
        steps = [json.loads(line)["training_iteration"] for line in lines]
        assert steps == list(range(1, 16)), (trial["dirname"], steps)
        assert [json.loads(line)["step"] for line in lines] == steps


@pytest.mark.parametrize("run", range(20))
def test_kill_at_a_random_moment_then_resume(tmp_path, run):
    rng = random.Random(1000 + run)
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    cmd = [sys.executable, str(script), str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Kill at a random point of progress: during start-up, or after a random number of the
    # 45 results were recorded (and so at a random point of the write and save cycle).
    target = rng.randint(0, 42)
    if target == 0:
        time.sleep(rng.uniform(0.0, 0.4))
    else:
        deadline = time.time() + 60
        while time.time() < deadline and _recorded(tmp_path / "exp") < target:
            time.sleep(0.001)
    assert proc.poll() is None, "the experiment ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _check(tmp_path / "exp")
