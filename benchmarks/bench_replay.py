"""Replay speed: a recorded experiment of 1,000 trials x 100 iterations, re-run under ASHA by
``tune.replay`` at simulated time. Target: <= 5 s.

The recording is made once (untimed) with a ``SimulatedExecutor`` under FIFO, so that every
trial has its full curve on disk. Each timed run is a fresh Python subprocess that imports
Overtone, reads the 100,000 recorded results and replays them under
``ASHAScheduler(max_t=100, reduction_factor=4)`` (writing the replay to ``tune.replay``'s
default place, a temporary folder in ``/dev/shm`` where there is one); it prints the
median, minimum and maximum wall time of ``--reps`` runs, and the time of the
``tune.replay`` call alone.

    .venv/bin/python benchmarks/bench_replay.py --reps 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_S = 5.0

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from overtone import tune
from overtone.tune.schedulers import ASHAScheduler
t1 = time.perf_counter()
report = tune.replay(sys.argv[1], scheduler=ASHAScheduler(max_t=100, reduction_factor=4),
                     num_slots=8, seed=0)
t2 = time.perf_counter()
import os, shutil
shutil.rmtree(os.path.dirname(report.result_grid.experiment_path))  # the replay's temp folder
print(json.dumps({"replay_s": t2 - t1, "import_s": t1 - t0, "trials": report.cost.trials,
                  "results": report.cost.iterations, "recorded": report.recorded_cost.iterations,
                  "best": report.best_value, "recorded_best": report.recorded_best_value}))
"""


def record(root: str, trials: int, iterations: int) -> str:
    from overtone import tune

    def curve(config, t):
        return {
            "loss": config["final"] + config["gap"] * t ** (-config["rate"]),
            "time_this_iter_s": 0.5 + config["final"],
        }

    sim = tune.SimulatedExecutor(curve, num_slots=8, max_iterations=iterations)
    grid = tune.Tuner(
        lambda config: None,
        param_space={
            "final": tune.uniform(0.05, 1.0),
            "gap": tune.uniform(0.2, 0.8),
            "rate": tune.uniform(0.3, 1.0),
        },
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=trials, seed=0),
        run_config=tune.RunConfig(
            name="recorded", storage_path=root, executor=sim, verbose=0, default_loggers=False
        ),
    ).fit()
    assert len(grid) == trials and sim.iterations == trials * iterations, sim.iterations
    return grid.experiment_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench-replay-")
    try:
        t0 = time.perf_counter()
        path = record(root, args.trials, args.iterations)
        print(f"recorded {args.trials} x {args.iterations} in {time.perf_counter() - t0:.1f} s")
        walls, inner = [], []
        for _ in range(args.reps):
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, path], capture_output=True, text=True
            )
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                print("ERROR", proc.stderr[-2000:])
                return
            info = json.loads(proc.stdout.strip().splitlines()[-1])
            walls.append(wall)
            inner.append(info["replay_s"])
        med = statistics.median(walls)
        verdict = "ok" if med <= TARGET_S else "MISS"
        print(
            f"replay of {info['recorded']} recorded results: {info['results']} replayed, "
            f"best {info['best']:.4g} (recorded best {info['recorded_best']:.4g})"
        )
        print(
            f"wall (fresh process): median {med:.2f} s, min {min(walls):.2f}, "
            f"max {max(walls):.2f}; tune.replay call: median {statistics.median(inner):.2f} s"
            f"  target <= {TARGET_S:g} s: {verdict}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
