"""The Lightning and Keras callbacks' arguments, and what they report, in one process.

``tune.report`` needs a trial; these tests swap the integration's ``report`` for a recorder,
which is all a callback calls (the examples' tests run them inside real trials).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture
def reports(monkeypatch):
    from overtone.tune.integration import _common

    seen = []

    def record(metrics, checkpoint=None):
        files = sorted(os.listdir(checkpoint.path)) if checkpoint is not None else None
        seen.append((metrics, files))

    monkeypatch.setattr(_common, "report", record)
    return seen


def test_lightning_hooks_and_metrics(reports):
    pytest.importorskip("lightning")
    import lightning
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from overtone.tune.integration.pytorch_lightning import (
        TuneReportCallback,
        TuneReportCheckpointCallback,
    )

    with pytest.raises(ValueError, match="on is 'validation_ends', but must be one of"):
        TuneReportCheckpointCallback(on="validation_ends")

    class Tiny(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = TensorDataset(torch.randn(32, 2), torch.randn(32, 1))
    loader = DataLoader(data, batch_size=8)
    trainer = lightning.Trainer(
        max_epochs=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        callbacks=[
            TuneReportCheckpointCallback(
                {"loss": "val_loss"}, filename="ckpt", on="validation_end"
            ),
            TuneReportCallback(["train_loss"], on="on_train_epoch_end"),
        ],
    )
    trainer.fit(Tiny(), loader, loader)  # the sanity check's validation is not reported
    with_ckpt = [m for m, files in reports if files == ["ckpt"]]
    plain = [m for m, files in reports if files is None]
    assert len(with_ckpt) == 2 and all(set(m) == {"loss"} for m in with_ckpt)
    assert len(plain) == 2 and all(isinstance(m["train_loss"], float) for m in plain)


def test_keras_hooks_frequency_and_metrics(reports, tmp_path):
    pytest.importorskip("keras")
    import keras

    from overtone.checkpoint import Checkpoint
    from overtone.tune.integration.keras import (
        ReportCheckpointCallback,
        TuneReportCallback,
        TuneReportCheckpointCallback,
    )

    with pytest.raises(ValueError, match="on is 'epoch_finish', but must be one of"):
        TuneReportCallback(on="epoch_finish")
    with pytest.raises(ValueError, match="but must be a file name ending in .keras"):
        TuneReportCheckpointCallback(filename="model.h5")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.default_rng(0).normal(size=(16, 2)), np.zeros(16)
    model.fit(
        x,
        y,
        validation_data=(x, y),
        epochs=4,
        verbose=0,
        callbacks=[TuneReportCheckpointCallback({"val": "val_loss"}, frequency=2)],
    )
    assert [files for _, files in reports] == [None, ["model.keras"], None, ["model.keras"]]
    assert all(set(m) == {"val"} for m, _ in reports)
    reports.clear()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ReportCheckpointCallback(checkpoint_on=[])])
    assert len(reports) == 1 and reports[0][1] is None and "loss" in reports[0][0]

    model.save(str(tmp_path / "x.keras"))
    restored = TuneReportCheckpointCallback.get_model(Checkpoint(tmp_path), filename="x.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))
