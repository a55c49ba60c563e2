"""MXNet Gluon: a network tuned under ASHA, checkpointed every epoch, resumed after a crash.

The parameters and the trainer's state go into each epoch's checkpoint; a restarted trial
(``--crash-once`` makes one fail) loads them from ``tune.get_checkpoint()`` and goes on. The
data are scikit-learn's bundled digits. A trial given a GPU trains on ``mx.gpu(0)``: the
executor sets the trial's ``CUDA_VISIBLE_DEVICES``, so device 0 is the trial's own.

MXNet 1.9.1 needs ``numpy<1.24``; CI runs this example in its own virtualenv
(``.ci/mxnet-requirements.txt``).

    python examples/frameworks/mxnet_gluon.py --smoke-test
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MXNET_CPU_WORKER_NTHREADS", "1")

import mxnet as mx  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from overtone import tune  # noqa: E402
from overtone.tune.schedulers import ASHAScheduler  # noqa: E402


def device() -> mx.Context:
    return mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()


def train_gluon(config: dict) -> None:
    ctx = device()
    mx.random.seed(0)
    x, y = load_digits(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    train_data = gluon.data.DataLoader(
        gluon.data.ArrayDataset(xt.astype("float32"), yt.astype("float32")),
        batch_size=config["batch_size"],
        shuffle=True,
    )
    xv_nd, yv_nd = mx.nd.array(xv, ctx=ctx), mx.nd.array(yv, ctx=ctx)
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(config["hidden"], activation="relu"), gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": config["lr"]})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            net.load_parameters(os.path.join(folder, "net.params"), ctx=ctx)
            trainer.load_states(os.path.join(folder, "trainer.states"))
            with open(os.path.join(folder, "epoch")) as f:
                start = int(f.read()) + 1
    for epoch in range(start, config["epochs"]):
        for data, label in train_data:
            data, label = data.as_in_context(ctx), label.as_in_context(ctx)
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
        output = net(xv_nd)
        val_loss = loss_fn(output, yv_nd).mean().asscalar()
        accuracy = (output.argmax(axis=1) == yv_nd).mean().asscalar()
        crash_flag = config.get("crash_flag")
        if crash_flag and epoch == 2 and not os.path.exists(crash_flag):
            open(crash_flag, "w").close()
            raise RuntimeError("a simulated crash: the trial restarts from its checkpoint")
        with tempfile.TemporaryDirectory() as folder:
            net.save_parameters(os.path.join(folder, "net.params"))
            trainer.save_states(os.path.join(folder, "trainer.states"))
            with open(os.path.join(folder, "epoch"), "w") as f:
                f.write(str(epoch))
            tune.report(
                {
                    "loss": float(val_loss),
                    "accuracy": float(accuracy),
                    "epoch": epoch,
                    "device": str(ctx),
                },
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
        gpus = 0.5 if mx.context.num_gpus() > 0 else 0
    epochs = 4 if smoke else 30
    storage = args.storage_path or os.environ.get("OVERTONE_STORAGE_PATH")
    space = {
        "lr": tune.loguniform(1e-2, 5e-1),
        "hidden": tune.choice([32, 64]),
        "batch_size": 64,
        "epochs": epochs,
    }
    if args.crash_once:
        space["crash_flag"] = os.path.join(storage or tempfile.gettempdir(), "crashed-once")
    tuner = tune.Tuner(
        tune.with_resources(train_gluon, {"cpu": 1, "gpu": gpus}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=4 if smoke else 16,
            scheduler=ASHAScheduler(max_t=epochs, grace_period=1, reduction_factor=2),
            seed=0,
        ),
        run_config=tune.RunConfig(
            name="mxnet_gluon",
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
