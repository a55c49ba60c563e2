"""Driver memory after 1,000 trials vs after 10,000 one-result trials.

Usage::

    .venv/bin/python benchmarks/bench_memory.py [--trials 10000] [--reps 1] [--storage-root DIR]

Each repetition runs, in a fresh interpreter (the driver), one experiment with ``--trials``
trials of a function that reports one result (a grid search, ``verbose=0``,
``max_concurrent_trials=2``, default persistence into a temporary storage path). A
``tune.Callback`` counts completed trials in the driver and, after ``gc.collect()``, reads the
driver's resident memory (``VmRSS`` in ``/proc/self/status``) when a tenth of the trials
(1,000 of 10,000) and when all of them have completed. The figure of merit is
``rss(all) / rss(tenth)``; the target (issue 17) is at most 1.1. It also prints the wall time
of the experiment, and the driver's CPU time (``time.process_time``) per trial over the first
and the last tenth of the trials: their ratio should stay within 1.1 (a cost per trial that
does not grow with the experiment's size; CPU time, because a loaded machine disturbs it less
than wall time; the first tenth is timed from the first completed trial, leaving the start-up
out). This is a report, not a test: it always exits 0 and marks a missed target ``MISS``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    describe_storage,
    loadavg,
    print_table,
    run_once,
    snapshot_default_results,
)

TARGET = 1.1
CPU_TARGET = 1.1
PEAK_TARGET_MB = 300.0  # the driver's peak over a 100,000-trial run, analysis included
PEAK_TARGET_TRIALS = 100_000
MARKER = "BENCH_MEMORY_RESULT "


def read_status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (VmRSS, VmHWM), in KiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(trials: int) -> None:
    """The driver: run the experiment and print the samples as one JSON line."""
    from overtone import tune

    first = max(1, trials // 10)
    last_start = trials - first
    samples: dict[str, int] = {}
    cpu: dict[str, float] = {}

    class MemorySampler(tune.Callback):
        def __init__(self) -> None:
            self.completed = 0

        def on_trial_complete(self, iteration, trials_, trial, **info):
            self.completed += 1
            if self.completed in (1, first, last_start, trials):
                cpu[str(self.completed)] = time.process_time()
            if self.completed in (first, trials):
                gc.collect()
                samples[str(self.completed)] = read_status_kib("VmRSS")

    def f(config):
        tune.report(score=config["x"])

    gc.collect()
    samples["start"] = read_status_kib("VmRSS")
    cpu["start"] = time.process_time()
    start = time.perf_counter()
    analysis = tune.run(
        f,
        config={"x": tune.grid_search(list(range(trials)))},
        storage_path=os.environ["BENCH_STORAGE"],
        max_concurrent_trials=2,
        verbose=0,
        callbacks=[MemorySampler()],
    )
    run_s = time.perf_counter() - start
    gc.collect()
    samples["after_run"] = read_status_kib("VmRSS")
    n = len(analysis.trials)
    print(
        MARKER
        + json.dumps(
            {
                "trials": trials,
                "first": first,
                "completed": n,
                "run_s": run_s,
                "rss_kib": samples,
                "cpu": cpu,
                "hwm_kib": read_status_kib("VmHWM"),
            }
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10000, help="trials in the experiment")
    parser.add_argument("--reps", type=int, default=1, help="fresh driver processes to run")
    parser.add_argument(
        "--storage-root",
        default=None,
        metavar="DIR",
        help="make the temporary storage dir under DIR (e.g. /dev/shm)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.trials)
        return 0

    before = snapshot_default_results()
    load_before = loadavg()
    rows, ratios, peaks = [], [], []
    for rep in range(args.reps):
        print(f"rep {rep + 1}/{args.reps}: {args.trials} trials...", file=sys.stderr)
        wall, proc, note, _ = run_once(
            [__file__, "--child", "--trials", str(args.trials)],
            stdout=subprocess.PIPE,
            timeout=3600,
            storage_root=args.storage_root,
        )
        out = proc.stdout.decode(errors="replace")
        lines = [ln for ln in out.splitlines() if ln.startswith(MARKER)]
        if proc.returncode != 0 or not lines:
            print(
                f"ERROR: exit code {proc.returncode}; stderr tail:\n"
                + "\n".join(proc.stderr.decode(errors="replace").splitlines()[-25:])
            )
            continue
        data = json.loads(lines[-1][len(MARKER) :])
        rss = data["rss_kib"]
        first, last = str(data["first"]), str(data["trials"])
        if first not in rss or last not in rss:
            print(
                f"ERROR: the callback sampled only {sorted(rss)} "
                f"({data['completed']} trials in the analysis)"
            )
            continue
        ratio = rss[last] / rss[first]
        ratios.append(ratio)
        peaks.append(data["hwm_kib"])
        cpu = data["cpu"]
        n_first = data["first"]
        head = (cpu[first] - cpu["1"]) / max(1, n_first - 1)
        tail = (cpu[last] - cpu[str(data["trials"] - n_first)]) / n_first
        rows.append(
            [
                str(rep + 1),
                str(data["trials"]),
                f"{data['run_s']:.2f}",
                f"{wall:.2f}",
                f"{rss['start'] / 1024:.1f}",
                f"{rss[first] / 1024:.1f}",
                f"{rss[last] / 1024:.1f}",
                f"{rss['after_run'] / 1024:.1f}",
                f"{data['hwm_kib'] / 1024:.1f}",
                f"{ratio:.3f}" + ("  MISS" if ratio > TARGET else "  ok"),
                f"{head * 1e3:.3f} / {tail * 1e3:.3f}",
                f"{tail / head:.3f}" + ("  MISS" if tail / head > CPU_TARGET else "  ok"),
            ]
        )
        if note:
            print(f"warning: {note}")

    first_n = max(1, args.trials // 10)
    print(
        f"\nDriver RSS (MiB) in one experiment of {args.trials} one-result trials, "
        f"verbose=0, 2 at a time, {describe_storage(args.storage_root)}\n"
    )
    print_table(
        [
            "rep",
            "trials",
            "tune.run s",
            "process s",
            "RSS start",
            f"RSS @{first_n}",
            f"RSS @{args.trials}",
            "RSS after run",
            "peak (HWM)",
            f"ratio (target <= {TARGET:g})",
            "CPU ms/trial first / last 10%",
            f"last / first (target <= {CPU_TARGET:g})",
        ],
        rows,
    )
    if ratios:
        med = statistics.median(ratios)
        print(
            f"\nmedian ratio rss@{args.trials} / rss@{first_n}: {med:.3f} "
            + ("MISS" if med > TARGET else "ok")
        )
    if peaks:
        peak = max(peaks) * 1024 / 1e6  # MB (10^6 bytes): the stricter reading of the target
        if args.trials >= PEAK_TARGET_TRIALS:
            verdict = "ok" if peak < PEAK_TARGET_MB else "MISS"
        else:
            verdict = f"(the target is for {PEAK_TARGET_TRIALS:,} trials)"
        print(
            f"driver peak (VmHWM, tune.run and its ExperimentAnalysis): {peak:.1f} MB "
            f"({max(peaks) / 1024:.1f} MiB), "
            f"target < {PEAK_TARGET_MB:g} MB: {verdict}"
        )
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
