"""What the logger callbacks cost: result throughput with loggers on vs off.

Usage::

    .venv/bin/python benchmarks/bench_loggers.py [--reps 3] [--warmup 1] [--mlflow]
        [--storage-root DIR] [--only NAME]

The workload is the core benchmark's ``results10k`` (2 trials at a time, each reporting
5,000 results of ``loss`` and ``step``, ``verbose=0``), run in a fresh interpreter per
repetition, with these callbacks:

- ``off``: ``RunConfig(default_loggers=False)`` and no callbacks: only the controller's
  journal, ``result.json``, is written. The baseline of every variant.
- the other variants keep the default loggers on (``progress.csv``, and TensorBoard files
  when tensorboardX or TensorBoard is installed), plus the callbacks below.
- ``tbx``: ``TBXLoggerCallback()`` (CRC32C from ``google-crc32c``/``crc32c`` if installed).
- ``tbx-pycrc``: the same, forced to the pure-Python CRC32C (no native package installed).
- ``all-default``: ``JsonLoggerCallback``, ``CSVLoggerCallback`` (writing copies under other
  file names, since the controller writes the originals) and ``TBXLoggerCallback``: the cost
  of the default loggers on top of the journal, an upper bound once they are the journal.
- ``mlflow`` (with ``--mlflow``): ``MLflowLoggerCallback`` on a file store.

Each child times ``tune.run`` itself (interpreter start and imports excluded); the
throughput is 10,000 results over that time. The table gives the median of the repetitions
and each variant's throughput as a fraction of ``off``'s (target for the default loggers:
at least 0.5; MLflow is not a default logger and has no target), and the same for the
driver's CPU time during ``tune.run``, which a busy machine disturbs less. The variants'
repetitions are interleaved, so a busy machine slows them all alike. This is a report, not
a test: it always exits 0, and marks a missed target with ``MISS``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import describe_storage, loadavg, print_table, run_once  # noqa: E402

TRIALS, PER_TRIAL = 2, 5000
TARGET = 0.5

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from overtone import tune
    from overtone.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

    variant, trials, per_trial = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


    class JsonCopy(JsonLoggerCallback):
        filename = "result_copy.json"


    class CSVCopy(CSVLoggerCallback):
        filename = "progress_copy.csv"


    callbacks = []
    if variant == "tbx-pycrc":
        from overtone.logger import _tfevents

        _tfevents.crc32c = _tfevents.crc32c_python
    if variant.startswith("tbx"):
        callbacks = [TBXLoggerCallback()]
    elif variant == "all-default":
        callbacks = [JsonCopy(), CSVCopy(), TBXLoggerCallback()]
    elif variant == "mlflow":
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        from overtone.integrations.mlflow import MLflowLoggerCallback

        uri = "file://" + os.path.join(os.environ["BENCH_STORAGE"], "mlruns")
        callbacks = [MLflowLoggerCallback(tracking_uri=uri, experiment_name="bench")]


    def f(config):
        for i in range(config["n"]):
            tune.report(loss=1.0 / (i + 1), step=i)


    start, cpu_start = time.perf_counter(), time.process_time()
    grid = tune.Tuner(
        f,
        param_space={"n": per_trial, "t": tune.grid_search(list(range(trials)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=2),
        run_config=tune.RunConfig(
            storage_path=os.environ["BENCH_STORAGE"],
            verbose=0,
            callbacks=callbacks,
            # "off": no progress.csv and no TensorBoard; result.json, the journal, stays.
            default_loggers=variant != "off",
        ),
    ).fit()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    assert len(grid) == trials, len(grid)
    for r in grid:
        assert r.metrics["training_iteration"] == per_trial, r.metrics
        if variant.startswith("tbx") or variant == "all-default":
            assert any("tfevents" in name for name in os.listdir(r.path)), r.path
    print(f"elapsed={elapsed:.6f} cpu={cpu:.6f}")
    """
)

VARIANTS = ["off", "tbx", "tbx-pycrc", "all-default"]
DEFAULT_LOGGER_VARIANTS = {"tbx", "tbx-pycrc", "all-default"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions per variant")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per variant first")
    parser.add_argument("--mlflow", action="store_true", help="add the MLflow variant")
    parser.add_argument("--only", action="append", default=[], help="run only this variant")
    parser.add_argument("--storage-root", default=None, help="where the storage dirs go")
    args = parser.parse_args(argv)

    variants = list(VARIANTS) + (["mlflow"] if args.mlflow else [])
    if args.only:
        variants = ["off", *[v for v in args.only if v != "off"]]
    times: dict[str, list[float]] = {v: [] for v in variants}
    cpus: dict[str, list[float]] = {v: [] for v in variants}
    errors: dict[str, str] = {}
    print(f"# Logger overhead: {TRIALS} trials x {PER_TRIAL} results, verbose=0")
    print(f"{describe_storage(args.storage_root)}; load average before: {loadavg()}\n")
    for rep in range(-args.warmup, args.reps):
        for variant in variants:
            if variant in errors:
                continue
            try:
                _, proc, note, _ = run_once(
                    ["-c", CHILD, variant, str(TRIALS), str(PER_TRIAL)],
                    stdout=subprocess.PIPE,
                    storage_root=args.storage_root,
                )
            except subprocess.TimeoutExpired:
                errors[variant] = "timed out"
                continue
            out = (proc.stdout or b"").decode()
            if proc.returncode != 0 or note or "elapsed=" not in out:
                tail = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
                errors[variant] = note or f"exit code {proc.returncode}: " + " | ".join(tail)
                continue
            if rep >= 0:
                times[variant].append(float(out.split("elapsed=")[1].split()[0]))
                cpus[variant].append(float(out.split("cpu=")[1].split()[0]))

    results = TRIALS * PER_TRIAL
    base = statistics.median(times["off"]) if times["off"] else float("nan")
    base_cpu = statistics.median(cpus["off"]) if cpus["off"] else float("nan")
    rows = []
    for variant in variants:
        if variant in errors:
            rows.append([variant, "ERROR", "-", "-", "-", "-", errors[variant][:80]])
            continue
        median = statistics.median(times[variant])
        ratio = base / median
        if variant in DEFAULT_LOGGER_VARIANTS:
            verdict = "  ok" if ratio >= TARGET else "  MISS"
        else:  # the baseline, and MLflow, which is not a default logger: no target
            verdict = ""
        cpu = statistics.median(cpus[variant])
        rows.append(
            [
                variant,
                f"{median:.3f}",
                f"{results / median:,.0f}",
                f"{ratio:.2f}{verdict}",
                f"{cpu:.3f}",
                f"{base_cpu / cpu:.2f}",
                " ".join(f"{t:.3f}" for t in times[variant]),
            ]
        )
    headers = ["variant", "tune.run median (s)", "results/s", "vs off (>= 0.5)",
               "driver CPU (s)", "CPU vs off", "runs (s)"]  # fmt: skip
    print_table(headers, rows)
    print(f"\nload average after: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
