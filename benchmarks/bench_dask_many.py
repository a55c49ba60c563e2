"""Many workers on Dask: N single-thread Dask workers, 10 x N paced trials of 1 s each.

Usage::

    .venv/bin/python benchmarks/bench_dask_many.py [--workers 64] [--seconds 1.0] [--default-dask]

The script starts a local Dask cluster (``bench_dask.LocalDaskCluster``: a scheduler and
``--workers`` worker processes with ``--nthreads 1 --resources CPU=1`` on 127.0.0.1), then runs,
in fresh interpreters, the same experiment on it and on the local executor with as many logical
CPUs (``LocalExecutor(num_cpus=N)``): ``10 x N`` trials that each sleep ``--seconds`` and report
one result computed from their config. Ideal: 10 x ``--seconds``. The target is Dask's
``tune.run`` wall time at most 1.10x the ideal, with the same results as the local run (each
trial's config and score).

Rows: ``local``; ``dask alone``, Dask itself running the same 10 x N sleeps as plain tasks
(``client.map``), what any library on that cluster can at best do; ``overtone, first``, the
first experiment on the fresh cluster (its workers import Overtone's task code and start
their fork servers); ``overtone, next``, a second experiment on the same cluster.

By default the workers run lean (``--no-nanny``, ``bench_dask.LEAN_ENV``: no profiler, slower
event-loop and system monitors): 64 default workers on 2 cores keep the machine busy while
idle (about 5x the ideal for Dask alone here). ``--default-dask`` runs them with Dask's
defaults instead. Like the other benchmarks, it is a report and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import loadavg, print_table, run_marked  # noqa: E402
from bench_dask import LocalDaskCluster  # noqa: E402

TARGET = 1.10
MARKER = "BENCH_DASK_MANY "

# argv: trials, seconds, executor ("local:N" or a dask:// URL)
PACED = textwrap.dedent(
    """
    import json, os, sys, time
    from overtone import tune
    from overtone.executors import LocalExecutor, make_executor

    trials, seconds, where = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]


    def f(config):
        time.sleep(seconds)
        tune.report(score=config["x"] * 3 + 1)


    if where.startswith("local:"):
        executor = LocalExecutor(num_cpus=int(where.split(":")[1]), num_gpus=0)
    else:
        executor = make_executor(where)
    start, cpu = time.perf_counter(), time.process_time()
    analysis = tune.run(
        f,
        config={"x": tune.grid_search(list(range(trials)))},
        storage_path=os.environ["BENCH_STORAGE"],
        verbose=0,
        executor=executor,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    scores = sorted((t.config["x"], t.last_result.get("score")) for t in analysis.trials)
    print("MARKER" + json.dumps({"wall": wall, "cpu": cpu, "scores": scores}), flush=True)
    """
).replace("MARKER", MARKER)


# argv: tasks, seconds, scheduler address
DASK_ALONE = textwrap.dedent(
    """
    import json, sys, time
    from distributed import Client

    tasks, seconds, address = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]


    def f(x):
        time.sleep(seconds)
        return x * 3 + 1


    with Client(address, set_as_default=False) as client:
        start = time.perf_counter()
        futures = client.map(f, range(tasks), pure=False, resources={"CPU": 1})
        client.gather(futures)
        wall = time.perf_counter() - start
    print("MARKER" + json.dumps({"wall": wall, "cpu": 0.0, "scores": None}), flush=True)
    """
).replace("MARKER", MARKER)


def run(trials: int, seconds: float, where: str, script: str = PACED) -> dict | None:
    return run_marked(["-c", script, str(trials), str(seconds), where], MARKER, where)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--default-dask", action="store_true", help="Dask's default workers")
    parser.add_argument("--settle", type=float, default=10.0, help="s to wait after start-up")
    args = parser.parse_args(argv)
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("bench_dask_many needs dask.distributed: pip install 'overtone[dask]'")
        return 0
    trials, ideal = 10 * args.workers, 10 * args.seconds
    load_before = loadavg()
    runs: list[tuple[str, dict | None]] = [
        ("local", run(trials, args.seconds, f"local:{args.workers}"))
    ]
    print(f"starting a local Dask cluster of {args.workers} workers...", file=sys.stderr)
    cluster = LocalDaskCluster(workers=args.workers, lean=not args.default_dask)
    try:
        time.sleep(args.settle)  # the workers' own start-up work ends
        url = "dask://" + cluster.address.removeprefix("tcp://")
        runs.append(("dask alone", run(trials, args.seconds, cluster.address, DASK_ALONE)))
        runs.append(("overtone, first", run(trials, args.seconds, url)))
        runs.append(("overtone, next", run(trials, args.seconds, url)))
    finally:
        cluster.close()
    rows = []
    for name, data in runs:
        if data is None:
            rows.append([name, "ERROR", "-", "-", "-"])
            continue
        ratio = data["wall"] / ideal
        mark = ("  ok" if ratio <= TARGET else "  MISS") if name.startswith("overtone") else ""
        cpu = f"{data['cpu']:.2f}" if name != "dask alone" else "-"
        rows.append([name, f"{data['wall']:.2f}", cpu, f"{ideal:.1f}", f"{ratio:.3f}{mark}"])
    local = runs[0][1]
    same = all(
        local is not None and data is not None and local["scores"] == data["scores"]
        for name, data in runs[2:]
    )
    kind = "default" if args.default_dask else "lean (no nanny, no profiler)"
    print(f"\n{args.workers} {kind} workers, {trials} trials of {args.seconds:g} s\n")
    print_table(
        ["run", "tune.run s", "driver CPU s", "ideal s", f"ratio (target <= {TARGET:g})"], rows
    )
    print(f"\nsame trial results as local: {'yes' if same else 'NO'}")
    print(
        f"load average (1 min): {load_before} before, {loadavg()} after, on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
