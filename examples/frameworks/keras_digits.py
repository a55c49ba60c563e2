"""Keras 3 with Overtone's callback: report the logs and checkpoint the model every epoch.

Keras 3 runs on JAX, PyTorch or TensorFlow; this example picks PyTorch unless
``KERAS_BACKEND`` says otherwise. The data are scikit-learn's bundled digits. With the PyTorch
backend Keras places the model on the trial's GPU by itself when it was given one (the
executor sets the trial's ``CUDA_VISIBLE_DEVICES``).

    python examples/frameworks/keras_digits.py --smoke-test
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from overtone import tune  # noqa: E402
from overtone.tune.integration.keras import TuneReportCheckpointCallback  # noqa: E402


def train_keras(config: dict) -> None:
    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    keras.utils.set_random_seed(0)
    x, y = load_digits(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(config["hidden"], activation="relu"),
            keras.layers.Dropout(config["dropout"]),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config["lr"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    initial_epoch = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # a restarted trial: go on from the saved model
        model = TuneReportCheckpointCallback.get_model(checkpoint)
        initial_epoch = tune.get_context().get_iteration()
    model.fit(
        xt,
        yt,
        validation_data=(xv, yv),
        epochs=config["epochs"],
        initial_epoch=initial_epoch,
        batch_size=64,
        verbose=0,
        callbacks=[
            TuneReportCheckpointCallback(
                {"loss": "val_loss", "accuracy": "val_accuracy"}, frequency=1
            )
        ],
    )


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--storage-path", default=None)
    parser.add_argument("--gpus-per-trial", type=float, default=0)
    args = parser.parse_args(argv)
    smoke = args.smoke_test or os.environ.get("OVERTONE_SMOKE_TEST") == "1"
    tuner = tune.Tuner(
        tune.with_resources(train_keras, {"cpu": 1, "gpu": args.gpus_per_trial}),
        param_space={
            "lr": tune.loguniform(1e-3, 1e-2),
            "hidden": tune.choice([32, 64]),
            "dropout": tune.uniform(0.0, 0.3),
            "epochs": 3 if smoke else 20,
        },
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=2 if smoke else 10, seed=0
        ),
        run_config=tune.RunConfig(
            name="keras_digits",
            storage_path=args.storage_path or os.environ.get("OVERTONE_STORAGE_PATH"),
            failure_config=tune.FailureConfig(max_failures=1),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=0 if smoke else 1,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    model = TuneReportCheckpointCallback.get_model(best.checkpoint)
    x, y = load_digits(return_X_y=True)
    _, xv, _, yv = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    loss, accuracy = model.evaluate(xv, yv, verbose=0)
    print(f"best config: {best.config}")
    print(f"best val loss: {best.metrics['loss']:.4f}; the checkpoint's model: {loss:.4f}")
    return results


if __name__ == "__main__":
    main()
