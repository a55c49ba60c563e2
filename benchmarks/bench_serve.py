"""Serving throughput and latency: Overtone's service against a bare Starlette app.

A small experiment trains a scikit-learn logistic regression on iris (the model of the
serving tests). Then, for each run, a load generator in its own process (raw HTTP/1.1 over
asyncio streams, keep-alive connections, so that the client costs little CPU) sends
single-instance requests from ``--clients`` concurrent connections, ``--requests`` in all
after ``--warmup`` unmeasured ones, to:

- ``bare``: a Starlette app under uvicorn (h11, one process) that unpickles the same
  checkpoint and calls ``model.predict`` in its request handler: the floor;
- ``overtone``: ``python -m overtone.serve EXPERIMENT --predictor sklearn --replicas 2``,
  batching on (``max_batch_size`` 32, ``batch_wait_timeout_s`` 0.01);
- ``overtone-nobatch`` (with ``--all``): the same with ``--max-batch-size 1``.

Targets: Overtone's throughput >= 0.7x the bare app's, its p99 <= 2x the bare app's.
Every run checks that each answer is a 200 with predictions. Variants alternate within a
repetition; the table gives medians over ``--reps``. Like every benchmark here it is a
report: it exits 0 and prints MISS next to a missed target.

    .venv/bin/python benchmarks/bench_serve.py                # 20,000 requests x 3 reps
    .venv/bin/python benchmarks/bench_serve.py --quick        # 2,000 requests x 1 rep
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve()

BARE_APP = r"""
import os, pickle, sys
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

with open(os.path.join(sys.argv[1], "model.pkl"), "rb") as f:
    model = pickle.load(f)

async def predict(request: Request) -> JSONResponse:
    payload = await request.json()
    return JSONResponse({"predictions": model.predict(np.asarray(payload["instances"])).tolist()})

app = Starlette(routes=[Route("/v1/models/{name}:predict", predict, methods=["POST"])])
config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
                        access_log=False, loop="asyncio", http="h11")
server = uvicorn.Server(config)
import socket
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print(f"Serving http://127.0.0.1:{sock.getsockname()[1]}/v1/models/model:predict", flush=True)
server.run(sockets=[sock])
"""


def train(config: dict) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from overtone import tune

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(C=config["C"], max_iter=300).fit(X, y)
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "model.pkl"), "wb") as f:
        pickle.dump(model, f)
    tune.report({"acc": model.score(X, y)}, checkpoint=tune.Checkpoint.from_directory(folder))


# -- the load generator (run as: bench_serve.py --load URL REQUESTS CLIENTS WARMUP) -----------
async def _load(url: str, total: int, clients: int, warmup: int) -> dict:
    from sklearn.datasets import load_iris

    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match, url
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    rows = load_iris(return_X_y=True)[0].tolist()
    requests = []
    for row in rows:
        body = json.dumps({"instances": [row]}).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    latencies: list[float] = []
    errors: list[str] = []
    counter = {"next": 0}

    async def client(measure_from: int, until: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while counter["next"] < until:
                i = counter["next"]
                counter["next"] += 1
                started = time.perf_counter()
                writer.write(requests[i % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                body = await reader.readexactly(length)
                if i >= measure_from:
                    latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 200") or b'"predictions"' not in body:
                    errors.append(head.split(b"\r\n")[0].decode() + " " + body[:200].decode())
        finally:
            writer.close()

    await asyncio.gather(*(client(total + 1, warmup) for _ in range(clients)))
    latencies.clear()
    errors.clear()
    counter["next"] = 0
    started = time.perf_counter()
    await asyncio.gather(*(client(0, total) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "throughput": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def _start(argv: list[str], cwd: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.match(r"Serving (http://\S+)", line)
        if match:
            return proc, match.group(1)
    _stop(proc)
    raise RuntimeError("the server did not start:\n" + "".join(seen))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (the front and its replicas)."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    except psutil.Error:
        return float("nan")
    return total


def _measure(proc: subprocess.Popen, url: str, args: argparse.Namespace) -> dict:
    cpu_before = _cpu_seconds(proc.pid)
    out = subprocess.run(
        [
            sys.executable,
            str(HERE),
            "--load",
            url,
            str(args.requests),
            str(args.clients),
            str(args.warmup),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    cpu = _cpu_seconds(proc.pid) - cpu_before
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # The server's CPU per request, warm-up included: steadier than wall time on a busy box.
    result["server_cpu_ms"] = 1000 * cpu / (args.requests + args.warmup)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 requests, 1 repetition")
    parser.add_argument("--all", action="store_true", help="also Overtone without batching")
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        url, total, clients, warmup = args.load
        print(json.dumps(asyncio.run(_load(url, int(total), int(clients), int(warmup)))))
        return
    if args.quick:
        args.requests, args.reps, args.warmup = 2000, 1, 300

    from overtone import tune

    work = tempfile.mkdtemp(prefix="bench-serve-")
    try:
        analysis = tune.run(
            train,
            config={"C": tune.grid_search([0.1, 1.0])},
            metric="acc",
            mode="max",
            storage_path=work,
            name="iris",
            verbose=0,
        )
        best = analysis.get_best_trial("acc", "max")
        checkpoint = analysis.get_best_checkpoint(best, "acc", "max").path
        app_file = os.path.join(work, "bare_app.py")
        Path(app_file).write_text(BARE_APP)
        variants = {
            "bare": [sys.executable, app_file, checkpoint],
            "overtone": [
                sys.executable,
                "-m",
                "overtone.serve",
                analysis.experiment_path,
                "--predictor",
                "sklearn",
                "--replicas",
                "2",
                "--port",
                "0",
            ],
        }
        if args.all:
            variants["overtone-nobatch"] = variants["overtone"] + ["--max-batch-size", "1"]
        runs: dict[str, list[dict]] = {name: [] for name in variants}
        print(
            f"{args.requests} single-instance requests from {args.clients} clients "
            f"(+{args.warmup} warm-up), {args.reps} repetition(s); CPUs: {os.cpu_count()}; "
            f"load average: {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        for rep in range(args.reps):
            for name, argv in variants.items():
                proc, url = _start(argv, work)
                try:
                    result = _measure(proc, url, args)
                finally:
                    _stop(proc)
                runs[name].append(result)
                print(f"  rep {rep + 1} {name:17s} {json.dumps(result)}", flush=True)
        print()
        print(
            f"{'variant':18s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s} "
            f"{'server CPU ms/req':>18s}"
        )
        medians = {}
        for name, results in runs.items():
            good = [r for r in results if "error" not in r]
            if not good:
                print(f"{name:18s} ERROR: {results[0]['error'][-300:]}")
                continue
            m = {
                k: statistics.median(r[k] for r in good)
                for k in ("throughput", "p50_ms", "p99_ms", "server_cpu_ms")
            }
            m["errors"] = sum(r["errors"] for r in good)
            medians[name] = m
            print(
                f"{name:18s} {m['throughput']:9.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} "
                f"{m['errors']:7d} {m['server_cpu_ms']:18.3f}"
            )
        if "bare" in medians and "overtone" in medians:
            bare, ours = medians["bare"], medians["overtone"]
            ratio = ours["throughput"] / bare["throughput"]
            p99 = ours["p99_ms"] / bare["p99_ms"]
            print()
            print(
                f"throughput: overtone / bare = {ratio:.2f} (target >= 0.7) "
                f"{'ok' if ratio >= 0.7 else 'MISS'}"
            )
            print(
                f"p99:        overtone / bare = {p99:.2f} (target <= 2.0) "
                f"{'ok' if p99 <= 2.0 else 'MISS'}"
            )
            if ours["errors"] or bare["errors"]:
                print("MISS: some requests failed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
