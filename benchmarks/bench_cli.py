"""``overtone ls`` over 100 experiments: the wall time of a fresh ``python -m overtone ls``.

Target: <= 0.3 s, interpreter start included, and no pandas import on that path. The child's
CPU time is printed too: on a shared machine it says more than the wall time. One real
experiment (20 trials, 10 results each) is run once and copied 100 times under a temporary
storage root; each timed run is a fresh subprocess. ``--pycache`` lets the children cache
bytecode under the temp dir (this sandbox sets ``PYTHONDONTWRITEBYTECODE=1``, so by default
every run compiles Overtone's modules again, which an installed package never does).

    .venv/bin/python benchmarks/bench_cli.py --reps 15 [--pycache]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 0.3


def make_storage(root: Path, experiments: int) -> None:
    code = (
        "import sys\n"
        "from overtone import tune\n"
        "def train(config):\n"
        "    for i in range(10):\n"
        "        tune.report({'loss': config['x'] / (i + 1)})\n"
        "tune.run(train, name='template', storage_path=sys.argv[1], verbose=0,\n"
        "         config={'x': tune.uniform(0, 1)}, num_samples=20, metric='loss', mode='min')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, cwd=REPO)
    template = root / "template"
    for i in range(experiments):
        shutil.copytree(template, root / f"exp_{i:03d}")
    shutil.rmtree(template)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--pycache", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    try:
        root = tmp / "results"
        root.mkdir()
        make_storage(root, args.experiments)
        env = dict(os.environ)
        if args.pycache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        command = [sys.executable, "-m", "overtone", "ls", str(root)]
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)  # warm-up
        times, cpu = [], []
        for _ in range(args.reps):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if done.returncode != 0 or done.stdout.count("\n") != args.experiments + 1:
                raise SystemExit(f"overtone ls failed: {done.stderr}")
        baseline = []
        for _ in range(args.reps):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
            baseline.append(time.perf_counter() - start)
        probe = (
            "import sys; from overtone.cli import main; main(['ls', sys.argv[1]]); "
            "sys.stderr.write('pandas imported' if 'pandas' in sys.modules else 'no pandas')"
        )
        pandas = subprocess.run(
            [sys.executable, "-c", probe, str(root)], capture_output=True, text=True, env=env
        ).stderr.strip()
        median = statistics.median(times)
        verdict = "ok" if median <= TARGET_S else "MISS"
        load = os.getloadavg()[0]
        print(
            f"overtone ls over {args.experiments} experiments (20 trials each), {args.reps} runs"
        )
        print(
            f"  median {median:.3f} s  min {min(times):.3f}  max {max(times):.3f}  "
            f"target <= {TARGET_S} s: {verdict}"
        )
        print(f"  CPU time (user + sys) of the child: median {statistics.median(cpu):.3f} s")
        print(f"  bare 'python -c pass': median {statistics.median(baseline):.3f} s")
        print(f"  {pandas}; pycache {'on' if args.pycache else 'off'}; load average {load:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
