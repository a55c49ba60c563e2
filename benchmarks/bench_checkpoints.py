"""Checkpoint benchmarks: fit time with 10 MB checkpoints, and what they cost other trials.

Usage::

    .venv/bin/python benchmarks/bench_checkpoints.py [--reps 3] [--warmup 1] [--pycache]
        [--storage-root DIR] [--results 5000] [--only fit|throughput]

Workloads, each run in a fresh interpreter with its own temporary storage path:

- ``fit``: ``tune.Tuner`` with 2 trials x 20 iterations; each iteration writes a 10 MB file
  into a ``tempfile.TemporaryDirectory`` and reports it with
  ``tune.Checkpoint.from_directory``; ``CheckpointConfig(num_to_keep=2)``. The time is that of
  ``tuner.fit()``, measured inside the child (the process's wall time is shown beside it).
  Target: <= 2.5 s; Ray Tune 2.60: 7.0 s.
- ``throughput``: one trial reports ``--results`` tiny results, alone, and then next to a
  trial that checkpoints 10 MB every iteration for as long as the tiny trial runs
  (``max_concurrent_trials=2``). The tiny trial's rate is counted in the driver by a
  ``tune.Callback`` (results processed per second, first to last result). Target: the rate
  next to the checkpointing trial is >= 80% of the rate alone. An untargeted control runs
  the tiny trial next to a trial that only keeps a CPU busy, without checkpoints: on a
  2-CPU machine, that shows how much of the slowdown is just sharing the CPUs.

The 10 MB payload is ``os.urandom`` bytes generated once per trial, so the loop measures
checkpoint I/O rather than the random generator. This is a report, not a test: it always
exits 0, and marks a missed target with ``MISS``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    bytecode_env,
    describe_bytecode,
    describe_storage,
    fmt_s,
    loadavg,
    print_table,
    run_once,
    snapshot_default_results,
)

FIT_TARGET_S = 2.5
FIT_RAY_S = 7.0
RATIO_TARGET = 0.8  # "must not slow result throughput by more than 20%"

# argv: trials, iterations per trial, checkpoints to keep
FIT = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
    from overtone import tune

    trials, iters, keep = (int(a) for a in sys.argv[1:4])


    def train(config):
        payload = os.urandom(10 * 1024 * 1024)
        for i in range(config["iters"]):
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "model.bin"), "wb") as f:
                    f.write(payload)
                tune.report({"i": i}, checkpoint=tune.Checkpoint.from_directory(d))


    storage = os.environ["BENCH_STORAGE"]
    tuner = tune.Tuner(
        train,
        param_space={"iters": iters, "t": tune.grid_search(list(range(trials)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=2),
        run_config=tune.RunConfig(
            storage_path=storage,
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=keep),
        ),
    )
    start = time.perf_counter()
    grid = tuner.fit()
    fit_s = time.perf_counter() - start

    assert len(grid) == trials and grid.num_errors == 0, (len(grid), grid.errors)
    kept = []
    for result in grid:
        assert result.metrics["training_iteration"] == iters, result.metrics
        names = sorted(os.listdir(result.path))
        ckpts = [n for n in names if n.startswith("checkpoint_")]
        assert len(ckpts) == keep and all(len(n) == 17 for n in ckpts), names
        for n in ckpts:
            size = os.path.getsize(os.path.join(result.path, n, "model.bin"))
            assert size == 10 * 1024 * 1024, size
        kept.append(ckpts)
    print(json.dumps({"fit_s": fit_s, "kept": kept}))
    """
)

# argv: mode ("alone", "mixed" or "spin"), number of tiny results
THROUGHPUT = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
    from overtone import tune

    mode, n = sys.argv[1], int(sys.argv[2])
    storage = os.environ["BENCH_STORAGE"]


    def train(config):
        started = os.path.join(config["flags"], "ckpt_started")
        done = os.path.join(config["flags"], "tiny_done")
        if config["kind"] == "ckpt":
            payload = os.urandom(10 * 1024 * 1024)
            i = 0
            while not os.path.exists(done) and i < 100_000:
                i += 1
                with tempfile.TemporaryDirectory() as d:
                    with open(os.path.join(d, "model.bin"), "wb") as f:
                        f.write(payload)
                    tune.report({"kind": "ckpt", "i": i},
                                checkpoint=tune.Checkpoint.from_directory(d))
                if i == 1:
                    open(started, "w").close()
            return
        if config["kind"] == "spin":  # the control: busy on a CPU, no checkpoints
            open(started, "w").close()
            while not os.path.exists(done):
                end = time.perf_counter() + 0.01
                while time.perf_counter() < end:
                    pass
            tune.report({"kind": "spin"})
            return
        if config["wait"]:  # start counting once the checkpointing trial is at work
            deadline = time.time() + 60
            while not os.path.exists(started) and time.time() < deadline:
                time.sleep(0.005)
        for i in range(n):
            tune.report({"kind": "tiny", "i": i})
        open(done, "w").close()


    class Count(tune.Callback):
        def __init__(self):
            self.tiny = []  # driver time of each tiny result
            self.ckpt = []

        def on_trial_result(self, iteration, trials, trial, result, **info):
            kind = result.get("kind")
            (self.tiny if kind == "tiny" else self.ckpt).append(time.perf_counter())


    count = Count()
    kinds = {"alone": ["tiny"], "mixed": ["ckpt", "tiny"], "spin": ["spin", "tiny"]}[mode]
    tuner = tune.Tuner(
        train,
        param_space={"kind": tune.grid_search(kinds), "flags": storage,
                     "wait": mode != "alone"},
        tune_config=tune.TuneConfig(max_concurrent_trials=2),
        run_config=tune.RunConfig(
            storage_path=storage,
            verbose=0,
            callbacks=[count],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )
    grid = tuner.fit()
    assert grid.num_errors == 0, grid.errors
    assert len(count.tiny) == n, len(count.tiny)
    first, last = count.tiny[0], count.tiny[-1]
    during = sum(1 for t in count.ckpt if first <= t <= last)
    print(json.dumps({"rate": (n - 1) / (last - first), "window_s": last - first,
                      "checkpoints_during": during}))
    """
)


def run_json(
    argv: list[str],
    env: dict[str, str | None],
    storage_root: str | None,
) -> tuple[dict | None, float, str]:
    """Run ``python *argv`` fresh; return (its JSON line, process wall s, error text)."""
    try:
        wall, proc, note, _ = run_once(
            argv, env=env, stdout=subprocess.PIPE, timeout=600, storage_root=storage_root
        )
    except subprocess.TimeoutExpired:
        return None, float("nan"), "timed out after 600 s"
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.decode(errors="replace").splitlines()[-20:])
        return None, wall, f"exit code {proc.returncode}; stderr tail:\n{tail}"
    if note:
        return None, wall, note
    lines = (proc.stdout or b"").decode(errors="replace").strip().splitlines()
    try:
        return json.loads(lines[-1]), wall, ""
    except (IndexError, ValueError):
        return None, wall, f"no JSON on stdout: {lines[-3:]!r}"


def stats(values: list[float]) -> tuple[str, str, str]:
    if not values:
        return "n/a", "n/a", "n/a"
    return fmt_s(statistics.median(values)), fmt_s(min(values)), fmt_s(max(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="timed runs per variant")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs before the timed ones, per variant"
    )
    parser.add_argument(
        "--pycache",
        action="store_true",
        help="let the children cache bytecode (under the temp dir), as a "
        "normal install does; this sandbox sets PYTHONDONTWRITEBYTECODE=1",
    )
    parser.add_argument(
        "--storage-root",
        default=None,
        metavar="DIR",
        help="make the temporary storage dirs under DIR (e.g. /dev/shm); default: the temp dir",
    )
    parser.add_argument(
        "--results",
        type=int,
        default=5000,
        help="results the tiny trial reports in the throughput workload",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=["fit", "throughput"],
        help="run only this workload (repeatable)",
    )
    args = parser.parse_args(argv)
    env = bytecode_env(args.pycache)
    selected = args.only or ["fit", "throughput"]
    before = snapshot_default_results()
    load_before = loadavg()
    errors: list[str] = []
    rows: list[list[str]] = []

    if "fit" in selected:
        print(f"running fit ({args.reps} reps)...", file=sys.stderr)
        fit_s: list[float] = []
        walls: list[float] = []
        for rep in range(-args.warmup, args.reps):
            data, wall, error = run_json(["-c", FIT, "2", "20", "2"], env, args.storage_root)
            if data is None:
                errors.append(f"fit: {error}")
                break
            if rep >= 0:
                fit_s.append(data["fit_s"])
                walls.append(wall)
        med, lo, hi = stats(fit_s)
        verdict = "-"
        if fit_s:
            ratio = statistics.median(fit_s) / FIT_TARGET_S
            verdict = f"{ratio:.2f}" + ("  MISS" if ratio > 1 else "  ok")
        rows.append(
            [
                "fit(): 2 trials x 20 iters x 10 MB ckpt, keep 2",
                med,
                lo,
                hi,
                stats(walls)[0],
                f"<= {FIT_TARGET_S:g} s",
                f"{FIT_RAY_S:g} s",
                verdict,
            ]
        )

    if "throughput" in selected:
        print(
            f"running throughput ({args.reps} reps per variant, interleaved)...", file=sys.stderr
        )
        modes = ("alone", "mixed", "spin")
        rates: dict[str, list[float]] = {m: [] for m in modes}
        walls_tp: dict[str, list[float]] = {m: [] for m in modes}
        during: list[int] = []
        failed = False
        for rep in range(-args.warmup, args.reps):
            for mode in modes:
                data, wall, error = run_json(
                    ["-c", THROUGHPUT, mode, str(args.results)], env, args.storage_root
                )
                if data is None:
                    errors.append(f"throughput ({mode}): {error}")
                    failed = True
                    break
                if rep >= 0:
                    rates[mode].append(data["rate"])
                    walls_tp[mode].append(wall)
                    if mode == "mixed":
                        during.append(data["checkpoints_during"])
            if failed:
                break

        def rate_row(name: str, mode: str) -> list[str]:
            values = rates[mode]
            if not values:
                return [name, "n/a", "n/a", "n/a", "n/a", "-", "-", "-"]
            return [
                name,
                f"{statistics.median(values):.0f}/s",
                f"{min(values):.0f}/s",
                f"{max(values):.0f}/s",
                stats(walls_tp[mode])[0],
                "-",
                "-",
                "-",
            ]

        rows.append(rate_row(f"tiny trial alone ({args.results} results)", "alone"))
        ckpts = f", {statistics.median(during):.0f} ckpts meanwhile" if during else ""
        rows.append(rate_row(f"tiny trial + 10 MB checkpointer{ckpts}", "mixed"))
        verdict = "-"
        ratio_cell = "n/a"
        if rates["alone"] and rates["mixed"]:
            ratio = statistics.median(rates["mixed"]) / statistics.median(rates["alone"])
            ratio_cell = f"{ratio:.2f}"
            verdict = "ok" if ratio >= RATIO_TARGET else "MISS"
        rows.append(
            [
                "throughput ratio (checkpointer / alone)",
                ratio_cell,
                "-",
                "-",
                "-",
                f">= {RATIO_TARGET:g}",
                "-",
                verdict,
            ]
        )
        # The control: how much of the slowdown is only sharing the CPUs with a busy trial.
        rows.append(rate_row("control: tiny trial + CPU-bound trial, no ckpts", "spin"))
        if rates["alone"] and rates["spin"]:
            ratio = statistics.median(rates["spin"]) / statistics.median(rates["alone"])
            rows.append(
                ["control ratio (CPU-bound / alone)", f"{ratio:.2f}", "-", "-", "-", "-", "-", "-"]
            )
        if rates["mixed"] and rates["spin"]:
            ratio = statistics.median(rates["mixed"]) / statistics.median(rates["spin"])
            rows.append(
                [
                    "checkpoint cost beyond CPU sharing (checkpointer / control)",
                    f"{ratio:.2f}",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                ]
            )

    print(
        f"\nPython {sys.version.split()[0]}, {args.reps} reps (+{args.warmup} warm-up), fresh "
        f"interpreter per rep, {describe_bytecode(args.pycache)}, "
        f"{describe_storage(args.storage_root)}; fit() seconds measured in the child, "
        "process s = the whole child's wall time\n"
    )
    print_table(
        ["workload", "median", "min", "max", "process s", "target", "Ray 2.60", "ratio to target"],
        rows,
    )
    for error in errors:
        print(f"\nERROR in {error}")
    print(
        f"\nload average (1 min): {load_before} before, {loadavg()} after, "
        f"on {os.cpu_count()} CPUs"
    )
    new = snapshot_default_results() - before
    if new:
        print(
            f"\nnote: new entries in ~/overtone_results during the run (perhaps from other "
            f"processes): {sorted(new)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
