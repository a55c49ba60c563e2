"""The dashboard's speed targets: the trial-table API of a 10,000-trial experiment (<= 1 s),
the experiment page usable in a real browser (<= 2 s), and a running experiment's new result
shown within 2 s.

The 10,000-trial experiment (10 results each) is written in the controller's layout
(``experiment_state.json``, each trial's ``params.json`` and ``result.json``) by this script:
running 10,000 real trials would take minutes and measure the controller, not the dashboard.
The live figure appends one result line at a time to a RUNNING trial's ``result.json``, as the
controller's recorder does (one ``write`` per result), and times how long the page, polling
without reload, takes to show it. The browser is Debian's Chromium driven by Playwright.

    .venv/bin/python benchmarks/bench_dashboard.py [--trials 10000] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from overtone.dashboard import DashboardServer
from overtone.storage._files import FORMAT_VERSION, dumps

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def write_experiment(root: Path, name: str, trials: int, results: int, running: int = 0) -> Path:
    """An experiment in the controller's layout; the first ``running`` trials are RUNNING."""
    path = root / name
    path.mkdir(parents=True)
    entries = []
    now = time.time()
    for i in range(trials):
        trial_id = f"b{i:05d}"
        config = {"lr": 10 ** (-4 + 3 * ((i * 7919) % 1000) / 1000), "layers": 1 + i % 4}
        dirname = f"train_{trial_id}_lr={config['lr']:.4g}"
        folder = path / dirname
        folder.mkdir()
        rows = []
        for it in range(1, results + 1):
            rows.append(
                {
                    "loss": config["lr"] * 100 / it + config["layers"] * 0.01,
                    "training_iteration": it,
                    "time_total_s": it * 0.1,
                    "timestamp": now,
                    "trial_id": trial_id,
                }
            )
        (folder / "params.json").write_text(json.dumps(config))
        (folder / "result.json").write_text("".join(dumps(r) + "\n" for r in rows))
        entries.append(
            {
                "trial_id": trial_id,
                "trial_name": f"train_{trial_id}",
                "dirname": dirname,
                "config": config,
                "status": "RUNNING" if i < running else "TERMINATED",
                "experiment_tag": str(i),
                "last_result": rows[-1],
                "num_failures": 0,
                "error_file": None,
                "checkpoints": [],
                "resources": {"cpu": 1},
                "trainable_name": "train",
            }
        )
    state = {
        "format_version": FORMAT_VERSION,
        "overtone_version": "bench",
        "name": name,
        "start_time": now,
        "metric": "loss",
        "mode": "min",
        "interrupted": False,
        "trials": entries,
    }
    (path / "experiment_state.json").write_text(dumps(state))
    return path


def fetch(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return time.perf_counter() - start, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--live", type=int, default=10, help="results appended, one by one")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_dash_"))
    try:
        root = tmp / "results"
        t0 = time.perf_counter()
        write_experiment(root, "big", args.trials, 10)
        live = write_experiment(root, "live", 8, 3, running=1)
        print(f"wrote {args.trials} trials in {time.perf_counter() - t0:.1f} s")
        print(f"load average {os.getloadavg()[0]:.1f} (2 CPUs)")
        server = DashboardServer(str(root), port=0).start()
        base = f"http://127.0.0.1:{server.port}/"
        try:
            api(base, args)
            browser(server, base, live, args)
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def api(base: str, args: argparse.Namespace) -> None:
    url = f"{base}api/experiments/big/trials"
    cold, size = fetch(url)
    start = time.perf_counter()
    while True:  # the journals not read by the first answer are read by the next polls
        with urllib.request.urlopen(url, timeout=60) as response:
            table = json.loads(response.read())
        if table["complete"]:
            break
        time.sleep(0.5)
    complete = time.perf_counter() - start + cold
    warm = []
    for i in range(args.reps):  # another mode each time: the whole table is built again
        time.sleep(0.6)  # past the refresh interval: every journal is stat'ed again
        warm.append(fetch(f"{url}?mode={'max' if i % 2 == 0 else 'min'}")[0])
    poll = []
    for _ in range(args.reps):
        time.sleep(0.6)
        poll.append(fetch(f"{url}?since={table['rev']}")[0])
    med = statistics.median
    verdict = "ok" if max(cold, med(warm)) <= 1.0 else "MISS"
    print(f"trial-table API, {args.trials} trials ({size / 1e6:.1f} MB of JSON), target <= 1 s:")
    print(f"  first answer: {cold:.3f} s (rows from the state file, journals read for 0.3 s)")
    print(f"  every journal read (best values complete) after: {complete:.1f} s")
    print(f"  every row, rebuilt: median {med(warm):.3f} s  max {max(warm):.3f}  ({verdict})")
    print(f"  a poll with nothing new (?since=): median {med(poll):.3f} s")


def browser(server: DashboardServer, base: str, live: Path, args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            visible, usable, plotted = [], [], []
            for _ in range(args.reps):
                context = chromium.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                start = time.perf_counter()
                page.goto(f"{base}#/exp/big", wait_until="commit")
                page.wait_for_selector("#trials tbody tr", timeout=60_000)
                visible.append(time.perf_counter() - start)
                page.click('th[data-sort="best"]')  # usable: a sort of every row answers
                page.wait_for_selector('th.sorted-asc[data-sort="best"]')
                usable.append(time.perf_counter() - start)
                page.wait_for_function(
                    "document.getElementById('curves').data", timeout=120_000, polling=100
                )  # the plots of all 10,000 trials wait for a click (BIG in app.js)
                plotted.append(time.perf_counter() - start)
                context.close()
            med = statistics.median
            verdict = "ok" if med(usable) <= 2.0 else "MISS"
            print(f"experiment page of {args.trials} trials in Chromium, target <= 2 s:")
            print(f"  table shown: median {med(visible):.2f} s (min {min(visible):.2f})")
            print(f"  table sorted by a click: median {med(usable):.2f} s ({verdict})")
            print(f"  learning curves drawn (plotly.js parsed): median {med(plotted):.2f} s")
            latency(chromium, base, live, args)
        finally:
            chromium.close()


def latency(chromium, base: str, live: Path, args: argparse.Namespace) -> None:
    state = json.loads((live / "experiment_state.json").read_text())
    trial = state["trials"][0]
    journal = live / trial["dirname"] / "result.json"
    page = chromium.new_page()
    page.goto(f"{base}#/exp/live")
    cell = f'#trials tr[data-trial-id="{trial["trial_id"]}"] td[data-col="iterations"]'
    page.wait_for_selector(cell)
    page.wait_for_function("document.getElementById('curves').data", timeout=120_000)
    page.evaluate("window.__same_document = true")
    delays = []
    for it in range(4, 4 + args.live):
        row = {"loss": 1.0 / it, "training_iteration": it, "trial_id": trial["trial_id"]}
        fd = os.open(journal, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (dumps(row) + "\n").encode())
        finally:
            os.close(fd)
        start = time.perf_counter()
        page.wait_for_function(
            f"document.querySelector('{cell}').innerText === '{it}'", timeout=30_000, polling=50
        )
        delays.append(time.perf_counter() - start)
        time.sleep(0.3)
    assert page.evaluate("window.__same_document") is True
    med = statistics.median(delays)
    verdict = "ok" if max(delays) <= 2.0 else "MISS"
    print(f"a running experiment's new result on the page (no reload), {args.live} results:")
    print(f"  median {med:.2f} s  max {max(delays):.2f} s  target <= 2 s: {verdict}")
    page.close()


if __name__ == "__main__":
    main()
