"""Wall time of the core workloads on a Dask cluster, next to the local executor.

The script starts a local Dask cluster once: a ``dask scheduler`` and 2 ``dask worker``
processes with ``--nthreads 1 --resources CPU=1``, all on 127.0.0.1. Then it times, in fresh
interpreters and interleaved, the same two workloads as ``bench_core.py`` with the local
executor and with ``executor="dask://..."`` on that cluster: 200 trials of one result each,
and 2 trials of 5,000 results each, ``verbose=0``. The target is a Dask time within 3x of the
local executor's. Ray Tune 2.60's times for the same workloads are shown for reference.
Like the other benchmarks, it is a report and always exits 0.

    .venv/bin/python benchmarks/bench_dask.py --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    Variant,
    bytecode_env,
    describe_bytecode,
    describe_storage,
    loadavg,
    print_table,
    snapshot_default_results,
    target_row,
    time_interleaved,
)

TARGET_RATIO = 3.0

# argv: N, executor ("local" or "dask://host:port")
TRIALS = textwrap.dedent(
    """
    import os, sys
    from overtone import tune
    from overtone.executors import make_executor

    n = int(sys.argv[1])


    def f(config):
        tune.report(score=config["x"])


    analysis = tune.run(
        f,
        config={"x": tune.grid_search(list(range(n)))},
        storage_path=os.environ["BENCH_STORAGE"],
        max_concurrent_trials=2,
        verbose=0,
        executor=make_executor(sys.argv[2]),
    )
    assert len(analysis.trials) == n, len(analysis.trials)
    assert all(str(t.status).endswith("TERMINATED") for t in analysis.trials)
    """
)

# argv: trials, results per trial, executor
RESULTS = textwrap.dedent(
    """
    import os, sys
    from overtone import tune
    from overtone.executors import make_executor

    trials, per_trial = int(sys.argv[1]), int(sys.argv[2])


    def f(config):
        for i in range(config["n"]):
            tune.report(loss=1.0 / (i + 1), step=i)


    analysis = tune.run(
        f,
        config={"n": per_trial, "t": tune.grid_search(list(range(trials)))},
        storage_path=os.environ["BENCH_STORAGE"],
        max_concurrent_trials=2,
        verbose=0,
        executor=make_executor(sys.argv[3]),
    )
    assert len(analysis.trials) == trials, len(analysis.trials)
    for t in analysis.trials:
        assert t.last_result["training_iteration"] == per_trial, t.last_result
    """
)

WORKLOADS = [
    # name, Ray Tune 2.60's time, argv before the executor
    ("trials200", 13.1, ("-c", TRIALS, "200")),
    ("results10k", 34.0, ("-c", RESULTS, "2", "5000")),
]


# Dask settings for many workers on few cores (``LocalDaskCluster(lean=True)``, with
# ``--no-nanny``): an idle worker otherwise samples its own stack every 10 ms (the profiler)
# and checks its event loop every 20 ms, which with 64 workers on 2 cores keeps the machine
# busy before any task runs.
LEAN_ENV = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
}


class LocalDaskCluster:
    """A scheduler and 2 single-thread workers, each a subprocess in its own session."""

    def __init__(self, workers: int = 2, lean: bool = False) -> None:
        self.dir = tempfile.mkdtemp(prefix="overtone-bench-dask-")
        self.procs: list[subprocess.Popen[bytes]] = []
        scheduler_file = os.path.join(self.dir, "scheduler.json")
        self._spawn(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                scheduler_file,
            ]
        )
        deadline = time.monotonic() + 60
        while not os.path.exists(scheduler_file):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the scheduler did not start; see {self.dir}")
            time.sleep(0.05)
        time.sleep(0.05)
        self.address = json.loads(Path(scheduler_file).read_text())["address"]
        for _ in range(workers):
            self._spawn(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--resources",
                    "CPU=1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--memory-limit",
                    "0",
                    "--local-directory",
                    os.path.join(self.dir, "work"),
                    *(["--no-nanny"] if lean else []),
                ],
                LEAN_ENV if lean else None,
            )
        from distributed import Client

        with Client(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(os.path.join(self.dir, f"{len(self.procs)}.log"), "wb")
        self.procs.append(
            subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.dir,
                env={**os.environ, **(env or {})},
            )
        )
        log.close()

    def close(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in self.procs:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            for proc in self.procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        subprocess.run(["rm", "-rf", self.dir], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions per variant")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs before the timed ones, per variant"
    )
    parser.add_argument(
        "--pycache",
        action="store_true",
        help="let the children cache bytecode (under the temp dir)",
    )
    parser.add_argument(
        "--storage-root",
        default=None,
        metavar="DIR",
        help="make the temporary storage dirs under DIR (e.g. /dev/shm)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[w[0] for w in WORKLOADS],
        help="run only this workload (repeatable)",
    )
    args = parser.parse_args(argv)

    try:
        import distributed  # noqa: F401
    except ImportError:
        print("bench_dask needs dask.distributed: pip install 'overtone[dask]'")
        return 0

    before = snapshot_default_results()
    load_before = loadavg()
    print("starting a local Dask cluster (1 scheduler, 2 workers of 1 thread)...", file=sys.stderr)
    cluster = LocalDaskCluster()
    dask_url = "dask://" + cluster.address.removeprefix("tcp://")
    rows: list[list[str]] = []
    errors = []
    try:
        for name, ray, head in WORKLOADS:
            if args.only and name not in args.only:
                continue
            print(f"running {name} ({args.reps} reps per variant)...", file=sys.stderr)
            variants = [
                Variant(f"{name} local", (*head, "local")),
                Variant(f"{name} dask", (*head, dask_url)),
            ]
            local, dask = time_interleaved(
                variants,
                reps=args.reps,
                warmup=args.warmup,
                env=bytecode_env(args.pycache),
                storage_root=args.storage_root,
            )
            rows.append(target_row(local, None, ray)[:8] + ["-"])
            target = None if local.error else round(TARGET_RATIO * local.median, 2)
            ratio = "-" if local.error or dask.error else f"{dask.median / local.median:.2f}x"
            rows.append(target_row(dask, target, ray)[:8] + [ratio])
            errors += [t for t in (local, dask) if t.error is not None or t.stderr]
    finally:
        cluster.close()

    print(
        f"\nPython {sys.version.split()[0]}, {args.reps} reps (+{args.warmup} warm-up) per "
        f"variant, fresh interpreter per rep, {describe_bytecode(args.pycache)}, "
        f"{describe_storage(args.storage_root)}; Dask cluster of 2 workers "
        "(--nthreads 1 --resources CPU=1) on 127.0.0.1; seconds of wall time (CPU s: "
        "median user+sys of the driver's process tree, not the cluster's)\n"
    )
    print_table(
        [
            "workload",
            "median s",
            "min",
            "max",
            "CPU s",
            f"target ({TARGET_RATIO:g}x local)",
            "Ray 2.60",
            "ratio to target",
            "dask / local",
        ],
        rows,
    )
    for timing in errors:
        if timing.error is not None:
            print(f"\nERROR in {timing.name}:\n{timing.error}")
        if timing.stderr:
            print(f"\nstderr of a successful {timing.name} run:\n{timing.stderr}")
    print(
        f"\nload average (1 min): {load_before} before, {loadavg()} after, "
        f"on {os.cpu_count()} CPUs"
    )
    new = snapshot_default_results() - before
    if new:
        print(f"\nnote: new entries in ~/overtone_results during the run: {sorted(new)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
