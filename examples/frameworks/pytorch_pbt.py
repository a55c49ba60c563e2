"""PyTorch under Population Based Training: weak trials copy strong ones and explore.

Each trial trains a small convolutional net on scikit-learn's bundled 8x8 digits, reports its
validation accuracy with a checkpoint every epoch and, when PBT restarts it from another
trial's checkpoint with a perturbed learning rate and momentum, loads that checkpoint from
``tune.get_checkpoint()`` and applies the new config to its optimizer. A trial given a GPU
trains on it (its ``CUDA_VISIBLE_DEVICES`` is set by the executor).

    python examples/frameworks/pytorch_pbt.py --smoke-test
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
from overtone.tune.schedulers import PopulationBasedTraining


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def train_pbt(config: dict) -> None:
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x, y = load_digits(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    xt, xv = (torch.tensor(a, dtype=torch.float32).view(-1, 1, 8, 8).to(device) for a in (xt, xv))
    yt, yv = (torch.tensor(a, dtype=torch.long).to(device) for a in (yt, yv))
    torch.manual_seed(0)
    model = make_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    epoch = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # a restart after an exploit, or after a failure
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, "state.pt"), map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch = state["epoch"]
        for group in optimizer.param_groups:  # the explored config wins over the copied one
            group["lr"], group["momentum"] = config["lr"], config["momentum"]
    loss_fn = nn.CrossEntropyLoss()
    while epoch < config["epochs"]:
        model.train()
        for batch in torch.randperm(len(xt), device=device).split(32):
            optimizer.zero_grad()
            loss_fn(model(xt[batch]), yt[batch]).backward()
            optimizer.step()
        epoch += 1
        model.eval()
        with torch.no_grad():
            accuracy = (model(xv).argmax(1) == yv).float().mean().item()
        with tempfile.TemporaryDirectory() as folder:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            torch.save({**state, "epoch": epoch}, os.path.join(folder, "state.pt"))
            tune.report(
                {"accuracy": accuracy, "lr": config["lr"], "epoch": epoch},
                checkpoint=tune.Checkpoint.from_directory(folder),
            )


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--storage-path", default=None)
    parser.add_argument("--gpus-per-trial", type=float, default=None)
    args = parser.parse_args(argv)
    smoke = args.smoke_test or os.environ.get("OVERTONE_SMOKE_TEST") == "1"
    gpus = args.gpus_per_trial
    if gpus is None:
        gpus = 0.5 if torch.cuda.is_available() else 0
    epochs = 4 if smoke else 40
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=2,
        synch=True,  # the whole population perturbs at once, every 2 epochs
        hyperparam_mutations={"lr": tune.loguniform(1e-3, 0.5), "momentum": [0.0, 0.5, 0.9]},
    )
    tuner = tune.Tuner(
        # PBT compares trials that run side by side: half a CPU each lets four share two.
        tune.with_resources(train_pbt, {"cpu": 0.5, "gpu": gpus}),
        param_space={
            "lr": tune.loguniform(1e-3, 0.5),
            "momentum": tune.choice([0.0, 0.5, 0.9]),
            "epochs": epochs,
        },
        tune_config=tune.TuneConfig(
            metric="accuracy", mode="max", scheduler=pbt, num_samples=4 if smoke else 8, seed=1
        ),
        run_config=tune.RunConfig(
            name="pytorch_pbt",
            storage_path=args.storage_path or os.environ.get("OVERTONE_STORAGE_PATH"),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            verbose=0 if smoke else 1,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    print(f"best accuracy: {best.metrics['accuracy']:.3f} with lr {best.config['lr']:.4g}")
    return results


if __name__ == "__main__":
    main()
