"""Wall-time benchmarks of Overtone's core paths, each run in a fresh interpreter.

Usage::

    .venv/bin/python benchmarks/bench_core.py [--reps 5] [--warmup 1] [--pycache]
        [--storage-root DIR] [--only NAME]

Workloads (2 trials at a time, default logging and persistence, results written to a fresh
temporary storage path that is removed afterwards):

- ``quickstart``: ``examples/quickstart.py`` itself, with its default verbosity (target
  0.3 s), and the same script without its last line, ``df = analysis.results_df``, the only
  one that needs pandas (target 0.2 s): pandas is imported only when a dataframe is asked for.
- ``trials200``: 200 trials of a function that reports one result.
- ``results10k``: 2 trials each reporting 5,000 results.
- ``import``: ``python -c "import overtone.tune"``; and, untargeted, with ``tune.run``,
  ``tune.grid_search`` and ``tune.report`` looked up (the facade may import lazily).

The experiments run twice: with ``verbose=0`` (compared with the target; the quick start's
target is for its default verbosity) and with the default verbosity (stdout to /dev/null), to
show what the progress output costs. The two variants' repetitions are interleaved.
This is a report, not a test: it always exits 0, and marks a missed target with ``MISS``.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO,
    Timing,
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

QUICKSTART = str(REPO / "examples" / "quickstart.py")

# The quick start with tune.run's default verbosity replaced by verbose=0, to show how much
# of its time is progress output. The script itself is run unchanged.
QUICKSTART_QUIET = textwrap.dedent(
    f"""
    import functools, runpy
    import overtone.tune
    overtone.tune.run = functools.partial(overtone.tune.run, verbose=0)
    runpy.run_path({QUICKSTART!r}, run_name="__main__")
    """
)

# The quick start without its dataframe: pandas is imported only for ``results_df``.
_DF_LINE = "df = analysis.results_df"
QUICKSTART_NO_DF = textwrap.dedent(
    f"""
    import sys
    source = open({QUICKSTART!r}).read()
    if {_DF_LINE!r} not in source:
        sys.exit("the quick start no longer ends with {_DF_LINE}: update bench_core.py")
    code = compile(source.replace({_DF_LINE!r}, ""), {QUICKSTART!r}, "exec")
    exec(code, {{"__name__": "__main__", "__file__": {QUICKSTART!r}}})
    """
)

IMPORT_USED = "from overtone import tune; tune.run; tune.grid_search; tune.report"

# argv: N, verbose ("default" or an int)
TRIALS = textwrap.dedent(
    """
    import os, sys
    from overtone import tune

    n = int(sys.argv[1])
    kwargs = {} if sys.argv[2] == "default" else {"verbose": int(sys.argv[2])}


    def f(config):
        tune.report(score=config["x"])


    analysis = tune.run(
        f,
        config={"x": tune.grid_search(list(range(n)))},
        storage_path=os.environ["BENCH_STORAGE"],
        max_concurrent_trials=2,
        **kwargs,
    )
    assert len(analysis.trials) == n, len(analysis.trials)
    assert all(str(t.status).endswith("TERMINATED") for t in analysis.trials)
    """
)

# argv: trials, results per trial, verbose ("default" or an int)
RESULTS = textwrap.dedent(
    """
    import os, sys
    from overtone import tune

    trials, per_trial = int(sys.argv[1]), int(sys.argv[2])
    kwargs = {} if sys.argv[3] == "default" else {"verbose": int(sys.argv[3])}


    def f(config):
        for i in range(config["n"]):
            tune.report(loss=1.0 / (i + 1), step=i)


    analysis = tune.run(
        f,
        config={"n": per_trial, "t": tune.grid_search(list(range(trials)))},
        storage_path=os.environ["BENCH_STORAGE"],
        max_concurrent_trials=2,
        **kwargs,
    )
    assert len(analysis.trials) == trials, len(analysis.trials)
    for t in analysis.trials:
        assert t.last_result["training_iteration"] == per_trial, t.last_result
    """
)


@dataclass
class Workload:
    name: str
    target: float | None
    ray: float | None  # Ray Tune 2.60's time for the same workload, in seconds
    variants: list[Variant]  # the first is the one compared with the target
    strict: bool = False  # the target is "<" rather than "<="
    # Targets of other variants than the first, by name (Ray's time is not known for them).
    more_targets: dict[str, float] = field(default_factory=dict)


WORKLOADS = [
    # The targets are for the quick start as users run it: its default verbosity.
    Workload(
        "quickstart",
        0.3,
        13.0,
        [
            Variant("quickstart (default verbose)", (QUICKSTART,), measure_output=True),
            Variant("quickstart without results_df", ("-c", QUICKSTART_NO_DF)),
            Variant("quickstart (verbose=0, patched)", ("-c", QUICKSTART_QUIET)),
        ],
        more_targets={"quickstart without results_df": 0.2},
    ),
    Workload(
        "trials200",
        2.0,
        13.1,
        [
            Variant("trials200 (verbose=0)", ("-c", TRIALS, "200", "0")),
            Variant(
                "trials200 (default verbose)",
                ("-c", TRIALS, "200", "default"),
                measure_output=True,
            ),
        ],
    ),
    Workload(
        "results10k",
        2.0,
        34.0,
        [
            Variant("results10k (verbose=0)", ("-c", RESULTS, "2", "5000", "0")),
            Variant(
                "results10k (default verbose)",
                ("-c", RESULTS, "2", "5000", "default"),
                measure_output=True,
            ),
        ],
    ),
    Workload(
        "import",
        0.5,
        None,
        [
            Variant("import", ("-c", "import overtone.tune"), expect_storage=False),
            # The facade may import lazily; this is what a script pays before tune.run starts.
            Variant("import + tune.run, grid_search", ("-c", IMPORT_USED), expect_storage=False),
        ],
        strict=True,
    ),
]


def output_cost(timing: Timing, timings: list[Timing]) -> str:
    """For a default-verbosity row: its median minus the verbose=0 variant's median."""
    if "default verbose" not in timing.name or timing.error is not None:
        return "-"
    quiet = [t for t in timings if "verbose=0" in t.name and t.error is None]
    if not quiet:
        return "-"
    return f"{timing.median - quiet[0].median:+.3f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per variant")
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
        help="make the temporary storage dirs under DIR (e.g. /dev/shm to "
        "leave out the disk's cost); default: the temp dir",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[w.name for w in WORKLOADS],
        help="run only this workload (repeatable)",
    )
    args = parser.parse_args(argv)

    before = snapshot_default_results()
    load_before = loadavg()
    selected = [w for w in WORKLOADS if not args.only or w.name in args.only]
    rows: list[list[str]] = []
    errors: list[Timing] = []
    for workload in selected:
        print(f"running {workload.name} ({args.reps} reps per variant)...", file=sys.stderr)
        timings = time_interleaved(
            workload.variants,
            reps=args.reps,
            warmup=args.warmup,
            env=bytecode_env(args.pycache),
            storage_root=args.storage_root,
        )
        for n, timing in enumerate(timings):
            if n == 0:
                row = target_row(timing, workload.target, workload.ray, strict=workload.strict)
            else:
                row = target_row(timing, workload.more_targets.get(timing.name), None)
            rows.append(row + [output_cost(timing, timings)])
            if timing.error is not None or timing.stderr:
                errors.append(timing)

    print(
        f"\nPython {sys.version.split()[0]}, {args.reps} reps (+{args.warmup} warm-up) per "
        f"variant, fresh interpreter per rep, {describe_bytecode(args.pycache)}, "
        f"{describe_storage(args.storage_root)}; "
        "seconds of wall time (CPU s: median user+sys of the process tree)\n"
    )
    print_table(
        [
            "workload",
            "median s",
            "min",
            "max",
            "CPU s",
            "target",
            "Ray 2.60",
            "ratio to target",
            "stdout",
            "output cost",
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
        print(
            f"\nnote: new entries in ~/overtone_results during the run (perhaps from other "
            f"processes): {sorted(new)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
