"""Ray Tune's scalability release tests, scaled to this machine: trials that mostly wait.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--reps 1] [--only bookkeeping|throughput]
        [--scale 1.0]

Two workloads, each in a fresh interpreter (the driver), with ``LocalExecutor(num_cpus=N)``
handing out N logical CPUs (the trials sleep, so N far above the real cores is fine):

- ``bookkeeping``: 320 trials that each sleep 1 s and report 1 result, 16 at a time
  (``num_cpus=16``). Ideal: 320 / 16 x 1 s = 20 s.
- ``throughput``: 32 trials at once (``num_cpus=32``), each reporting 10 results a second for
  20 s (6,400 results). Ideal: 20 s.

``--scale`` multiplies the trial counts (bookkeeping) or the duration (throughput) to run a
shorter version. The figure of merit is the wall time of ``tune.run`` divided by the ideal;
the target is at most 1.05. The driver's CPU time (``time.process_time``) and, for the
time to the first trial's start are printed next to it:
on a loaded machine they say where the time went better than the wall time does. Like the
other benchmarks, it is a report and always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import loadavg, print_table, run_marked  # noqa: E402

TARGET = 1.05
MARKER = "BENCH_SCALE_RESULT "


def child(workload: str, scale: float) -> None:
    from overtone import tune
    from overtone.executors import LocalExecutor

    if workload == "bookkeeping":
        trials, at_once, seconds, per_s = round(320 * scale), 16, 1.0, 1.0
        ideal = trials / at_once * seconds
    else:
        trials, at_once, seconds, per_s = 32, 32, 20.0 * scale, 10.0
        ideal = seconds
    results = round(seconds * per_s)
    first_start: list[float] = []

    class FirstStart(tune.Callback):
        def on_trial_start(self, iteration, trials_, trial, **info):
            if not first_start:
                first_start.append(time.perf_counter())

    def paced(config):
        start = time.monotonic()
        for i in range(1, results + 1):
            pause = start + i / per_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            tune.report(step=i)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    analysis = tune.run(
        paced,
        config={"i": tune.grid_search(list(range(trials)))},
        storage_path=os.environ["BENCH_STORAGE"],
        resources_per_trial={"cpu": 1},
        executor=LocalExecutor(num_cpus=at_once),
        verbose=0,
        callbacks=[FirstStart()],
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    ok = sum(
        1 for t in analysis.trials if t.status == "TERMINATED" and t.last_result["step"] == results
    )
    print(
        MARKER
        + json.dumps(
            {
                "workload": workload,
                "trials": trials,
                "ok": ok,
                "results": trials * results,
                "wall": wall,
                "cpu": cpu,
                "ideal": ideal,
                "first_start": first_start[0] - wall0 if first_start else None,
            }
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--only", action="append", choices=["bookkeeping", "throughput"])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.scale)
        return 0
    rows = []
    load_before = loadavg()
    for workload in args.only or ["bookkeeping", "throughput"]:
        ratios, cpus = [], []
        for _ in range(args.reps):
            data = run_marked(
                [__file__, "--child", workload, "--scale", str(args.scale)], MARKER, workload
            )
            if data is None:
                continue
            if data["ok"] != data["trials"]:
                print(f"ERROR in {workload}: {data['ok']} of {data['trials']} trials complete")
            ratios.append(data["wall"] / data["ideal"])
            cpus.append(data["cpu"])
            first = data["first_start"]
            rows.append(
                [
                    workload,
                    str(data["trials"]),
                    str(data["results"]),
                    f"{data['ideal']:.1f}",
                    f"{data['wall']:.2f}",
                    f"{data['cpu']:.2f}",
                    "-" if first is None else f"{first:.2f}",
                    f"{data['wall'] / data['ideal']:.3f}"
                    + ("  ok" if data["wall"] / data["ideal"] <= TARGET else "  MISS"),
                ]
            )
        if ratios:
            med = statistics.median(ratios)
            print(
                f"{workload}: median ratio {med:.3f} (target <= {TARGET}) "
                f"{'ok' if med <= TARGET else 'MISS'}; driver CPU {statistics.median(cpus):.2f} s"
            )
    print()
    print_table(
        [
            "workload",
            "trials",
            "results",
            "ideal s",
            "tune.run s",
            "driver CPU s",
            "first start s",
            f"ratio (target <= {TARGET})",
        ],
        rows,
    )
    print(
        f"\nload average (1 min): {load_before} before, {loadavg()} after, "
        f"on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
