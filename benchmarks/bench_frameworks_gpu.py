"""The GPU check of the framework examples, for a machine with at least one GPU.

Usage (on a GPU machine)::

    .venv/bin/python benchmarks/bench_frameworks_gpu.py

Four PyTorch trials ask for ``gpu=0.5`` each on a ``LocalExecutor`` given one GPU: two must
run at a time on that GPU, each must see exactly one device (its ``CUDA_VISIBLE_DEVICES``),
train on ``cuda`` and see its loss decrease. Prints one line per trial and a verdict; exits 1
when a check fails, 2 when there is no GPU.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time


def train(config: dict) -> None:
    import torch
    from torch import nn

    from overtone import tune

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seen = {
        "visible": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "device_count": torch.cuda.device_count(),
        "device": str(device),
    }
    torch.manual_seed(config["seed"])
    x = torch.randn(4096, 64, device=device)
    y = (x[:, :8].sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 2)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    start = time.time()
    for epoch in range(20):
        for batch in torch.randperm(len(x), device=device).split(256):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        tune.report({"loss": loss.item(), "epoch": epoch, "t0": start, "t1": time.time(), **seen})


def main() -> int:
    import torch

    from overtone import tune
    from overtone.executors import LocalExecutor

    if not torch.cuda.is_available():
        print("no GPU on this machine: nothing to check")
        return 2
    grid = tune.Tuner(
        tune.with_resources(train, {"cpu": 1, "gpu": 0.5}),
        param_space={"lr": 0.05, "seed": tune.grid_search([0, 1, 2, 3])},
        run_config=tune.RunConfig(
            storage_path=tempfile.mkdtemp(),
            verbose=0,
            executor=LocalExecutor(num_cpus=4, num_gpus=1),
        ),
    ).fit()
    ok = grid.num_errors == 0
    spans = []
    for result in grid:
        df = result.metrics_dataframe
        last = result.metrics
        first_loss, last_loss = float(df["loss"].iloc[0]), float(df["loss"].iloc[-1])
        spans.append((last["t0"], last["t1"]))
        good = (
            last["device_count"] == 1
            and last["device"] == "cuda"
            and last["visible"] == "0"
            and last_loss < first_loss
        )
        ok &= good
        print(
            f"trial {result.config['seed']}: CUDA_VISIBLE_DEVICES={last['visible']!r}, "
            f"{last['device_count']} device(s) seen, on {last['device']}, loss {first_loss:.3f} "
            f"-> {last_loss:.3f} {'ok' if good else 'FAIL'}"
        )
    overlaps = sum(1 for a in spans for b in spans if a < b and a[0] < b[1] and b[0] < a[1])
    most_at_once = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    print(f"pairs of trials that overlapped: {overlaps}; most at once: {most_at_once}")
    ok &= most_at_once == 2
    print("GPU check:", "ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
