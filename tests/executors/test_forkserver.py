"""Workers forked from a copy of the driver (``LocalExecutor(start_method=...)``)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import types

import pytest

from overtone import tune
from overtone.executors import LocalExecutor
from overtone.executors._forkserver import choose_start_method

MARKER = "overtone_test_driver_only_module"


def _sees_marker(config):
    import os
    import sys

    tune.report(seen=MARKER in sys.modules, pid=os.getpid(), ppid=os.getppid())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_forked_workers_have_what_the_driver_imported(tmp_path, monkeypatch, method):
    monkeypatch.setitem(sys.modules, MARKER, types.ModuleType(MARKER))
    analysis = tune.run(
        _sees_marker,
        config={"i": tune.grid_search([0, 1])},
        storage_path=str(tmp_path),
        executor=LocalExecutor(num_cpus=2, start_method=method),
        verbose=0,
    )
    results = [t.last_result for t in analysis.trials]
    assert [r["seen"] for r in results] == [method == "fork"] * 2
    # a forked worker's parent is the fork server, not the driver
    assert all((r["ppid"] == os.getpid()) == (method == "spawn") for r in results)


def test_start_method_is_checked():
    with pytest.raises(ValueError, match=r"start_method is 'forkserver', but must be one of"):
        LocalExecutor(start_method="forkserver")


def test_auto_keeps_to_new_interpreters_after_frameworks_that_cannot_be_forked(monkeypatch):
    monkeypatch.delenv("OVERTONE_WORKER_START", raising=False)
    assert choose_start_method("auto")[0] == "fork"
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    method, why = choose_start_method("auto")
    assert (method, why) == ("spawn", "the driver imported tensorflow")
    assert choose_start_method("fork")[0] == "fork"  # asked for: the user's call


def test_the_environment_variable_overrides_auto(monkeypatch):
    monkeypatch.setenv("OVERTONE_WORKER_START", "spawn")
    assert choose_start_method("auto")[0] == "spawn"
    assert choose_start_method("fork")[0] == "fork"
    monkeypatch.setenv("OVERTONE_WORKER_START", "vfork")
    with pytest.raises(ValueError, match=r"OVERTONE_WORKER_START is 'vfork', but must be"):
        choose_start_method("auto")


def _draws(config):
    import numpy as np

    tune.report(draw=float(np.random.random()))


def test_forked_workers_do_not_share_numpys_global_random_state(tmp_path):
    np = pytest.importorskip("numpy")
    np.random.seed(0)
    analysis = tune.run(
        _draws,
        config={"i": tune.grid_search([0, 1])},
        storage_path=str(tmp_path),
        executor=LocalExecutor(num_cpus=2, start_method="fork"),
        max_concurrent_trials=2,
        verbose=0,
    )
    draws = [t.last_result["draw"] for t in analysis.trials]
    assert len(set(draws)) == 2, draws


def test_openmp_in_the_driver_does_not_hang_forked_workers(tmp_path):
    """GNU OpenMP keeps its thread pool in the thread that ran a parallel region; a fork of
    that thread hangs at its next one. The driver here trains LightGBM on 2 threads first."""
    pytest.importorskip("lightgbm")
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import numpy as np, lightgbm as lgb
            from overtone import tune
            from overtone.executors import LocalExecutor

            x = np.random.default_rng(0).random((4000, 10))
            y = (x[:, 0] > 0.5).astype(int)

            def fit():
                lgb.train({{"num_threads": 2, "verbose": -1}}, lgb.Dataset(x, y), 10)

            fit()  # the driver's own thread pool exists now

            def trial(config):
                fit()
                tune.report(done=1)

            analysis = tune.run(
                trial, config={{"i": tune.grid_search([0, 1])}},
                storage_path={str(tmp_path)!r},
                executor=LocalExecutor(num_cpus=2, start_method="fork"), verbose=0,
            )
            print("ok", sorted(str(t.status) for t in analysis.trials))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ok ['TERMINATED', 'TERMINATED']" in out.stdout


def _open_locks(config):
    import os

    fds = os.listdir("/proc/self/fd")
    links = []
    for fd in fds:
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    tune.report(locks=sum(link.endswith(".overtone-lock") for link in links))


def test_forked_workers_do_not_keep_the_experiment_locked(tmp_path):
    """A ``flock`` holds while any copy of its descriptor is open: a worker that outlived
    the run would keep the experiment locked."""
    analysis = tune.run(
        _open_locks,
        config={"i": tune.grid_search([0, 1])},
        storage_path=str(tmp_path),
        name="exp",
        executor=LocalExecutor(num_cpus=2, start_method="fork"),
        verbose=0,
    )
    assert [t.last_result["locks"] for t in analysis.trials] == [0, 0]
    with open(tmp_path / "exp" / ".overtone-lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the run is over


def test_a_second_fork_server_does_not_keep_the_first_one_alive():
    """The second fork server is a copy of a driver that holds the first one's socket and
    life pipe: unless it lets go of them, the first never sees its driver close them."""
    import threading

    import cloudpickle

    first = LocalExecutor(num_cpus=1, start_method="fork")
    second = LocalExecutor(num_cpus=1, start_method="fork")
    first.setup("first", cloudpickle.dumps(_draws))
    second.setup("second", cloudpickle.dumps(_draws))
    try:
        ended = threading.Thread(target=first.shutdown, daemon=True)
        ended.start()
        ended.join(20)
        assert not ended.is_alive(), "the first executor's shutdown hangs"
    finally:
        second.shutdown()


def test_workers_start_as_interpreters_once_the_fork_server_is_gone():
    import signal

    import cloudpickle

    executor = LocalExecutor(num_cpus=1, start_method="fork")
    executor.setup("k", cloudpickle.dumps(_draws))
    try:
        server = executor._fork_server
        assert server is not None
        os.kill(server.pid, signal.SIGKILL)
        os.waitpid(server.pid, 0)
        executor._idle.clear()  # the idle worker went with it (its parent-death signal)
        worker = executor._spawn(())
        assert executor._fork_server is None
        assert isinstance(worker.proc, subprocess.Popen) and worker.alive()
        worker.kill()
    finally:
        executor.shutdown()
