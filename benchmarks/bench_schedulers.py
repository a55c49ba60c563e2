"""What a scheduler decision costs, next to what the core spends on a result.

Usage::

    .venv/bin/python benchmarks/bench_schedulers.py [--trials 1000] [--iterations 100]
        [--core-us 100] [--measure-core] [--storage-root DIR]

Target (issue 4): with 1,000 concurrent simulated trials, ASHA and PBT add less than 10% to
the result throughput of the core benchmark (``results10k``: 10,000 results in about 1 s,
so about 100 us per result).

How: ``--trials`` trials run in lockstep, in one process, for ``--iterations`` results each;
each result goes to the scheduler's ``on_trial_result`` exactly as the controller calls it
(a ``FrozenTrial`` snapshot and the result dict), and only that call is timed
(``time.perf_counter_ns``). Stopped trials leave; a PBT exploit (``TrialRestart``) gives the
trial its new config and it goes on. Snapshots, results and checkpoint folders are made
outside the timed calls. PBT writes its policy logs for real, under ``--storage-root`` (the
temp dir by default; ``/dev/shm`` leaves out the disk).

The core's time per result is ``--core-us`` (default 100 us, the figure above), or with
``--measure-core`` the wall time of ``results10k`` (``bench_core.py``, ``verbose=0``, a fresh
interpreter, interpreter start included) divided by 10,000. The ratio is a decision's cost
over that: the share a scheduler adds to the time of each result. This is a report, not a
test: it always exits 0, and marks a missed target with ``MISS``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import loadavg, print_table, run_once  # noqa: E402

from overtone import tune  # noqa: E402
from overtone._trial import FrozenTrial, Resources, TrialStatus  # noqa: E402
from overtone.schedulers import (  # noqa: E402
    ASHAScheduler,
    HyperBandScheduler,
    PopulationBasedTraining,
    TrialRestart,
    TrialScheduler,
)
from overtone.storage._layout import checkpoint_name  # noqa: E402

TARGET = 0.10  # of the core's time per result
# The controller saves the search state (the scheduler's get_state(), cloudpickled) about
# once a second; at the core's pace that is every 10,000 results. PBT writes its policy
# logs then.
SAVE_EVERY = 10_000


def _snapshot(trial_id: str, config: dict[str, Any], path: str) -> FrozenTrial:
    return FrozenTrial(
        trial_id=trial_id,
        trial_name=f"bench_{trial_id}",
        config=config,
        status=TrialStatus.RUNNING,
        last_result={},
        path=path,
        resources=Resources(),
        experiment_tag=trial_id,
        trainable_name="bench",
    )


def simulate(
    scheduler: TrialScheduler,
    metric: Callable[[dict[str, Any], float, int], tuple[float, float]],
    *,
    trials: int,
    iterations: int,
    root: str,
    checkpoint_every: int = 0,
    seed: int = 0,
) -> tuple[list[int], list[int], dict[str, int]]:
    """Run ``trials`` trials in lockstep under ``scheduler``; returns the time of each
    ``on_trial_result`` call and of each state save (ns), and the count of each decision."""
    rng = np.random.default_rng(seed)
    scheduler.set_search_properties("score", "max", seed=seed, experiment_path=root)
    configs = [
        {"q": float(rng.uniform()), "lr": float(10 ** rng.uniform(-4, -1)), "batch": 32}
        for _ in range(trials)
    ]
    ids = [f"b{i:05d}" for i in range(trials)]
    paths = [os.path.join(root, f"bench_{t}") for t in ids]
    snaps = {t: _snapshot(t, c, p) for t, c, p in zip(ids, configs, paths)}
    states = dict.fromkeys(ids, 0.0)
    for snap in snaps.values():
        scheduler.on_trial_add(snap)
    live = list(ids)
    times: list[int] = []
    saves: list[int] = []
    counts: dict[str, int] = {}
    clock = time.perf_counter_ns
    for it in range(1, iterations + 1):
        still = []
        for trial_id in live:
            snap = snaps[trial_id]
            states[trial_id], score = metric(snap.config, states[trial_id], it)
            result = {
                "score": score,
                "training_iteration": it,
                "time_total_s": float(it),
                "iterations_since_restore": it,
                "trial_id": trial_id,
                "done": False,
                "config": snap.config,
            }
            if checkpoint_every and it % checkpoint_every == 0:
                name = checkpoint_name(it)
                os.makedirs(os.path.join(snap.path, name), exist_ok=True)
                result["checkpoint_dir_name"] = name
            start = clock()
            decision = scheduler.on_trial_result(snap, result)
            times.append(clock() - start)
            if len(times) % SAVE_EVERY == 0:  # the controller saves the search state
                start = clock()
                cloudpickle.dumps(scheduler.get_state())
                saves.append(clock() - start)
            if isinstance(decision, TrialRestart):
                counts["RESTART"] = counts.get("RESTART", 0) + 1
                if decision.config is not None:
                    snaps[trial_id] = _snapshot(trial_id, decision.config, snap.path)
                still.append(trial_id)
                continue
            counts[decision.value] = counts.get(decision.value, 0) + 1
            if decision.value == "STOP":
                scheduler.on_trial_complete(snap, result)
            else:  # CONTINUE; a PAUSE is counted and the trial goes on (no queue here)
                still.append(trial_id)
        live = still
    start = clock()
    cloudpickle.dumps(scheduler.get_state())  # and once more at the end
    saves.append(clock() - start)
    return times, saves, counts


def _asha_curve(config: dict[str, Any], state: float, it: int) -> tuple[float, float]:
    return state, -(config["q"] + 1.0 / it)


def _pbt_gain(config: dict[str, Any], state: float, it: int) -> tuple[float, float]:
    best = -1.0 - 3.0 * it / 100.0
    state += math.exp(-((math.log10(config["lr"]) - best) ** 2) / 0.5)
    return state, state


def measure_core(storage_root: str | None) -> float | None:
    """Seconds per result of bench_core's results10k (verbose=0), one fresh interpreter."""
    from bench_core import RESULTS

    elapsed, proc, note, _ = run_once(
        ["-c", RESULTS, "2", "5000", "0"], storage_root=storage_root, timeout=600
    )
    if proc.returncode != 0 or note:
        print(
            f"results10k failed: {proc.stderr.decode(errors='replace')[-500:]}{note}",
            file=sys.stderr,
        )
        return None
    return elapsed / 10_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument(
        "--core-us",
        type=float,
        default=100.0,
        help="the core's time per result, in microseconds (default 100)",
    )
    parser.add_argument(
        "--measure-core",
        action="store_true",
        help="measure it instead: bench_core's results10k, once",
    )
    parser.add_argument(
        "--storage-root",
        default=None,
        metavar="DIR",
        help="where PBT writes its logs and checkpoint folders",
    )
    args = parser.parse_args(argv)

    core_us = args.core_us
    core_note = "given (--core-us)"
    if args.measure_core:
        seconds = measure_core(args.storage_root)
        if seconds is not None:
            core_us, core_note = seconds * 1e6, "measured (results10k, wall / 10,000)"

    load_before = loadavg()
    cases: list[tuple[str, Callable[[], TrialScheduler], Any, int, bool]] = [
        (
            "ASHA",
            lambda: ASHAScheduler(max_t=args.iterations, grace_period=1, reduction_factor=4),
            _asha_curve,
            0,
            True,
        ),
        (
            "PBT",
            lambda: PopulationBasedTraining(
                time_attr="training_iteration",
                perturbation_interval=10,
                hyperparam_mutations={"lr": tune.loguniform(1e-4, 1e-1), "batch": [16, 32, 64]},
            ),
            _pbt_gain,
            10,
            True,
        ),
        (
            "HyperBand (untargeted)",
            lambda: HyperBandScheduler(max_t=args.iterations, reduction_factor=3),
            _asha_curve,
            0,
            False,
        ),
    ]
    rows = []
    for name, factory, metric, checkpoint_every, targeted in cases:
        root = tempfile.mkdtemp(prefix="overtone-bench-sched-", dir=args.storage_root)
        try:
            print(f"running {name}...", file=sys.stderr)
            times, saves, counts = simulate(
                factory(),
                metric,
                trials=args.trials,
                iterations=args.iterations,
                root=root,
                checkpoint_every=checkpoint_every,
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)
        median = statistics.median(times) / 1000
        mean = statistics.fmean(times) / 1000
        p99 = float(np.percentile(times, 99)) / 1000
        per_result = (sum(times) + sum(saves)) / len(times) / 1000
        verdicts = []
        for value in (median, per_result):
            ratio = value / core_us
            mark = ("  ok" if ratio < TARGET else "  MISS") if targeted else ""
            verdicts.append(f"{ratio:.1%}{mark}")
        decided = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        rows.append(
            [
                name,
                str(len(times)),
                f"{median:.2f}",
                f"{mean:.2f}",
                f"{p99:.1f}",
                f"{sum(saves) / 1e6:.1f}",
                f"{per_result:.2f}",
                f"{core_us:.0f}",
                *verdicts,
                decided,
            ]
        )

    print(
        f"\nPython {sys.version.split()[0]}, {args.trials} trials x {args.iterations} "
        f"results in lockstep; load average {load_before} -> {loadavg()}; core time per "
        f"result {core_note}; target: a decision < {TARGET:.0%} of it\n"
    )
    print_table(
        [
            "scheduler",
            "decisions",
            "median us",
            "mean us",
            "p99 us",
            "state saves ms",
            "all us/result",
            "core us/result",
            "median / core",
            "all / core",
            "decisions made",
        ],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
