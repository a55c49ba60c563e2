"""What a person sees: verbosity levels, a terminal vs a log, Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from overtone import tune

    def train(config):
        for i in range(config["n"]):
            tune.report(loss=1.0 / (i + 1) + config["x"])
            time.sleep(config["sleep"])

    tune.run(train, config={"x": tune.grid_search([1, 2, 3]), "n": int(sys.argv[3]),
                            "sleep": float(sys.argv[4])}, name="exp",
             storage_path=sys.argv[1], verbose=int(sys.argv[2]), metric="loss", mode="min")
    print("RETURNED")
    """
)


def _run(tmp_path, verbose, iterations=3, sleep=0.0):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(verbose), str(iterations), str(sleep)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_verbose_0_prints_nothing(tmp_path):
    assert _run(tmp_path, 0) == "RETURNED\n"


def test_verbose_1_prints_only_the_summary(tmp_path):
    out = _run(tmp_path, 1)
    assert "== Status ==" not in out and "completed after" not in out  # no live status
    assert "Best 3 of 3 trials by loss (min):" in out  # issue 20: the summary's best trials
    assert "3 TERMINATED" in out and "Best trial" in out and "loss=1.3333" in out


def test_log_output_has_tables_and_no_escape_codes(tmp_path):
    out = _run(tmp_path, 2)
    assert "\x1b[" not in out
    assert "Trial name" in out and "TERMINATED" in out
    assert out.count("completed after 3 iterations") == 3


def test_verbose_3_prints_every_result(tmp_path):
    out = _run(tmp_path, 3)
    assert out.count(" reported ") == 9


def test_terminal_gets_a_live_table(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal is its stdout
        os.execv(sys.executable, [sys.executable, str(script), str(tmp_path), "2", "8", "0.2"])
    chunks = []
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    out = b"".join(chunks).decode(errors="replace")
    assert "RETURNED" in out
    assert "\x1b[" in out  # redrawn in place
    assert "TERMINATED" in out


def test_ctrl_c_stops_cleanly_and_keeps_results(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), "0", "1000", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    exp = tmp_path / "exp"
    deadline = time.time() + 30
    while time.time() < deadline:  # wait until results are flowing
        files = list(exp.glob("*/result.json"))
        if files and any(f.stat().st_size > 2000 for f in files):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "interrupted" in out and "RETURNED" in out
    state = json.loads((exp / "experiment_state.json").read_text())
    for trial in state["trials"]:
        path = exp / trial["dirname"] / "result.json"
        if not path.exists():  # its worker had not started it yet (a loaded machine)
            assert trial["status"] in ("RUNNING", "PENDING", "TERMINATED"), trial
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        # Every recorded result is intact and in order.
        assert [r["training_iteration"] for r in rows] == list(range(1, len(rows) + 1))
    # No worker process is left behind.
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert str(script) not in ps
