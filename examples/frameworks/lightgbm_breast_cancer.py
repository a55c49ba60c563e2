"""LightGBM with Overtone's callback: a metric per boosting round, the booster checkpointed.

The code is what a Ray Tune user writes, with ``overtone`` in the import lines; the data are
scikit-learn's bundled breast cancer set. LightGBM's GPU build is optional and rare, so a trial
given a GPU uses ``device_type="gpu"`` only when ``--lightgbm-gpu`` says that build is there.

    python examples/frameworks/lightgbm_breast_cancer.py --smoke-test
"""

from __future__ import annotations

import argparse
import os

import lightgbm as lgb
import sklearn.datasets
import sklearn.metrics
from sklearn.model_selection import train_test_split

from overtone import tune
from overtone.tune.integration.lightgbm import TuneReportCheckpointCallback
from overtone.tune.schedulers import ASHAScheduler


def train_breast_cancer(config: dict) -> None:
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    xt, xv, yt, yv = train_test_split(data, labels, test_size=0.25, random_state=0)
    train_set = lgb.Dataset(xt, label=yt)
    test_set = lgb.Dataset(xv, label=yv, reference=train_set)
    params = {k: v for k, v in config.items() if k not in ("num_boost_round", "gpu_build")}
    has_gpu = tune.get_context().get_trial_resources().get("gpu", 0) > 0
    params["device_type"] = "gpu" if has_gpu and config["gpu_build"] else "cpu"
    lgb.train(
        params,
        train_set,
        num_boost_round=config["num_boost_round"],
        valid_sets=[test_set],
        valid_names=["eval"],
        callbacks=[
            TuneReportCheckpointCallback(
                {"binary_error": "eval-binary_error", "binary_logloss": "eval-binary_logloss"},
                frequency=5,
            )
        ],
    )


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--storage-path", default=None)
    parser.add_argument("--gpus-per-trial", type=float, default=0)
    parser.add_argument("--lightgbm-gpu", action="store_true")
    args = parser.parse_args(argv)
    smoke = args.smoke_test or os.environ.get("OVERTONE_SMOKE_TEST") == "1"
    rounds = 10 if smoke else 100
    config = {
        "objective": "binary",
        "metric": ["binary_error", "binary_logloss"],
        "verbose": -1,
        "num_threads": 1,
        "boosting_type": tune.choice(["gbdt", "dart"]),
        "num_leaves": tune.randint(10, 1000),
        "learning_rate": tune.loguniform(1e-8, 1e-1),
        "num_boost_round": rounds,
        "gpu_build": args.lightgbm_gpu,
    }
    tuner = tune.Tuner(
        tune.with_resources(train_breast_cancer, {"cpu": 1, "gpu": args.gpus_per_trial}),
        param_space=config,
        tune_config=tune.TuneConfig(
            metric="binary_error",
            mode="min",
            num_samples=4 if smoke else 20,
            scheduler=ASHAScheduler(max_t=rounds, grace_period=2),
            seed=0,
        ),
        run_config=tune.RunConfig(
            name="lightgbm_breast_cancer",
            storage_path=args.storage_path or os.environ.get("OVERTONE_STORAGE_PATH"),
            verbose=0 if smoke else 1,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    booster = TuneReportCheckpointCallback.get_model(best.checkpoint)
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    _, xv, _, yv = train_test_split(data, labels, test_size=0.25, random_state=0)
    accuracy = sklearn.metrics.accuracy_score(yv, booster.predict(xv) > 0.5)
    print(f"best config: {best.config}")
    print(
        f"best binary_error: {best.metrics['binary_error']:.4f}; its booster's accuracy: "
        f"{accuracy:.3f}"
    )
    return results


if __name__ == "__main__":
    main()
