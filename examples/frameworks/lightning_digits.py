"""PyTorch Lightning with Overtone's callback: report and checkpoint on each validation end.

``TuneReportCheckpointCallback`` turns Lightning's ``validation_end`` hook into a
``tune.report`` with a checkpoint of the trainer; a trial restarted after a failure (or by
PBT) resumes Lightning's own state from ``tune.get_checkpoint()``. A trial given a GPU trains
on it: the executor sets its ``CUDA_VISIBLE_DEVICES``.

    python examples/frameworks/lightning_digits.py --smoke-test
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import warnings

import lightning
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from overtone import tune
from overtone.tune.integration.pytorch_lightning import TuneReportCheckpointCallback
from overtone.tune.schedulers import ASHAScheduler


class DigitsModel(lightning.LightningModule):
    def __init__(self, hidden: int, lr: float, crash_flag: str | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
        self.loss_fn = nn.CrossEntropyLoss()

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss_fn(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", self.loss_fn(logits, y))
        self.log("val_accuracy", (logits.argmax(1) == y).float().mean())
        self.log("val_epoch", float(self.current_epoch))

    def on_train_epoch_start(self) -> None:
        flag = self.hparams.crash_flag
        if flag and self.current_epoch == 1 and not os.path.exists(flag):
            open(flag, "w").close()  # crash once, after epoch 0's checkpoint
            raise RuntimeError("a simulated crash: the trial resumes from its checkpoint")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def loaders(batch_size: int) -> tuple[DataLoader, DataLoader]:
    x, y = load_digits(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)

    def dataset(a, b):
        return TensorDataset(torch.tensor(a, dtype=torch.float32), torch.tensor(b))

    train = DataLoader(dataset(xt, yt), batch_size=batch_size, shuffle=True)
    return train, DataLoader(dataset(xv, yv), batch_size=512)


def train_lightning(config: dict) -> None:
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    lightning.seed_everything(0, verbose=False)
    train, valid = loaders(config["batch_size"])
    model = DigitsModel(config["hidden"], config["lr"], config.get("crash_flag"))
    trainer = lightning.Trainer(
        max_epochs=config["epochs"],
        accelerator="gpu" if torch.cuda.is_available() else "cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        callbacks=[
            TuneReportCheckpointCallback(
                {"loss": "val_loss", "accuracy": "val_accuracy", "epoch": "val_epoch"},
                on="validation_end",
            )
        ],
    )
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        trainer.fit(model, train, valid)
    else:
        with checkpoint.as_directory() as folder:
            trainer.fit(model, train, valid, ckpt_path=os.path.join(folder, "checkpoint"))


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--storage-path", default=None)
    parser.add_argument("--gpus-per-trial", type=float, default=None)
    parser.add_argument("--crash-once", action="store_true", help="crash one trial at epoch 1")
    args = parser.parse_args(argv)
    smoke = args.smoke_test or os.environ.get("OVERTONE_SMOKE_TEST") == "1"
    gpus = args.gpus_per_trial
    if gpus is None:
        gpus = 0.5 if torch.cuda.is_available() else 0
    epochs = 3 if smoke else 20
    storage = args.storage_path or os.environ.get("OVERTONE_STORAGE_PATH")
    space = {
        "lr": tune.loguniform(1e-3, 3e-2),
        "hidden": tune.choice([32, 64]),
        "batch_size": 64,
        "epochs": epochs,
    }
    if args.crash_once:
        space["crash_flag"] = os.path.join(storage or tempfile.gettempdir(), "crashed-once")
    tuner = tune.Tuner(
        tune.with_resources(train_lightning, {"cpu": 1, "gpu": gpus}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=2 if smoke else 12,
            # the crashing run must reach epoch 1: ASHA may stop a trial only after 2 epochs
            scheduler=ASHAScheduler(max_t=epochs, grace_period=2),
            seed=0,
        ),
        run_config=tune.RunConfig(
            name="lightning_digits",
            storage_path=storage,
            failure_config=tune.FailureConfig(max_failures=1),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=0 if smoke else 1,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    print(f"best config: {best.config}")
    print(f"best val loss: {best.metrics['loss']:.4f}, accuracy {best.metrics['accuracy']:.3f}")
    with tempfile.TemporaryDirectory() as folder:  # the checkpoint is Lightning's own file
        best.checkpoint.to_directory(folder)
        restored = DigitsModel.load_from_checkpoint(os.path.join(folder, "checkpoint"))
        print(f"restored a model with {restored.hparams.hidden} hidden units")
    return results


if __name__ == "__main__":
    main()
