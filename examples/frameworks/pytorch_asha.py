"""PyTorch: a training loop that checkpoints every epoch and resumes, under ASHA.

An MLP learns scikit-learn's bundled digits (no download). Each epoch the trial reports its
validation loss with a checkpoint (model, optimizer, epoch); ASHA stops the weak trials early;
a trial that crashes (``--crash-once``) restarts from its latest checkpoint, not from epoch 0.
A trial given a GPU (``--gpus-per-trial``) trains on it: the executor sets the trial's
``CUDA_VISIBLE_DEVICES``, so ``torch.cuda.is_available()`` is true exactly when it has one.

    python examples/frameworks/pytorch_asha.py                 # full size
    python examples/frameworks/pytorch_asha.py --smoke-test    # seconds (or OVERTONE_SMOKE_TEST=1)
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from overtone import tune
from overtone.tune.schedulers import ASHAScheduler


def load_data(device: torch.device):
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.25, random_state=0)
    as_tensors = [torch.tensor(a, dtype=torch.float32) for a in (xt, xv)]
    as_tensors += [torch.tensor(a, dtype=torch.long) for a in (yt, yv)]
    return [t.to(device) for t in as_tensors]


def train_digits(config: dict) -> None:
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    xt, xv, yt, yv = load_data(device)
    torch.manual_seed(config.get("seed", 0))
    model = nn.Sequential(
        nn.Linear(64, config["hidden"]), nn.ReLU(), nn.Linear(config["hidden"], 10)
    )
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, "state.pt"), map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"] + 1
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(start, config["epochs"]):
        model.train()
        for batch in torch.randperm(len(xt), device=device).split(config["batch_size"]):
            optimizer.zero_grad()
            loss_fn(model(xt[batch]), yt[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(xv)
            val_loss = loss_fn(logits, yv).item()
            accuracy = (logits.argmax(1) == yv).float().mean().item()
        crash_flag = config.get("crash_flag")
        if crash_flag and epoch == 2 and not os.path.exists(crash_flag):
            open(crash_flag, "w").close()  # crash once, before epoch 2 is reported
            raise RuntimeError("a simulated crash: the trial restarts from its checkpoint")
        with tempfile.TemporaryDirectory() as folder:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            torch.save({**state, "epoch": epoch}, os.path.join(folder, "state.pt"))
            tune.report(
                {"loss": val_loss, "accuracy": accuracy, "epoch": epoch, "device": str(device)},
                checkpoint=tune.Checkpoint.from_directory(folder),
            )


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--storage-path", default=None)
    parser.add_argument("--gpus-per-trial", type=float, default=None)
    parser.add_argument("--crash-once", action="store_true", help="crash one trial at epoch 2")
    args = parser.parse_args(argv)
    smoke = args.smoke_test or os.environ.get("OVERTONE_SMOKE_TEST") == "1"
    gpus = args.gpus_per_trial
    if gpus is None:
        gpus = 0.5 if torch.cuda.is_available() else 0
    epochs = 4 if smoke else 30
    space = {
        "lr": tune.loguniform(1e-3, 3e-1),
        "momentum": tune.uniform(0.0, 0.95),
        "hidden": tune.choice([16, 64] if smoke else [32, 64, 128]),
        "batch_size": 64,
        "epochs": epochs,
    }
    storage = args.storage_path or os.environ.get("OVERTONE_STORAGE_PATH")
    if args.crash_once:
        space["crash_flag"] = os.path.join(storage or tempfile.gettempdir(), "crashed-once")
    tuner = tune.Tuner(
        tune.with_resources(train_digits, {"cpu": 1, "gpu": gpus}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=4 if smoke else 16,
            scheduler=ASHAScheduler(max_t=epochs, grace_period=1, reduction_factor=2),
            seed=0,
        ),
        run_config=tune.RunConfig(
            name="pytorch_asha",
            storage_path=storage,
            failure_config=tune.FailureConfig(max_failures=1),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            verbose=0 if smoke else 1,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    print(f"best config: {best.config}")
    print(f"best loss: {best.metrics['loss']:.4f}, accuracy {best.metrics['accuracy']:.3f}")
    return results


if __name__ == "__main__":
    main()
