"""XGBoost with Overtone's callback: a metric per boosting round, the booster checkpointed.

The code is what a Ray Tune user writes, with ``overtone`` in the import lines. The data are
scikit-learn's bundled breast cancer set; ASHA stops the weak configurations early. A trial
given a GPU trains on it (``device="cuda"``; the executor sets its ``CUDA_VISIBLE_DEVICES``).

    python examples/frameworks/xgboost_breast_cancer.py --smoke-test
"""

from __future__ import annotations

import argparse
import os

import sklearn.datasets
import sklearn.metrics
import xgboost as xgb
from sklearn.model_selection import train_test_split

from overtone import tune
from overtone.tune.integration.xgboost import TuneReportCheckpointCallback
from overtone.tune.schedulers import ASHAScheduler


def trial_has_gpu() -> bool:
    return tune.get_context().get_trial_resources().get("gpu", 0) > 0


def train_breast_cancer(config: dict) -> None:
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    xt, xv, yt, yv = train_test_split(data, labels, test_size=0.25, random_state=0)
    train_set, test_set = xgb.DMatrix(xt, label=yt), xgb.DMatrix(xv, label=yv)
    params = {k: v for k, v in config.items() if k != "num_boost_round"}
    params["device"] = "cuda" if trial_has_gpu() else "cpu"
    xgb.train(
        params,
        train_set,
        num_boost_round=config["num_boost_round"],
        evals=[(test_set, "eval")],
        verbose_eval=False,
        callbacks=[TuneReportCheckpointCallback(frequency=5)],
    )


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--storage-path", default=None)
    parser.add_argument("--gpus-per-trial", type=float, default=0)
    args = parser.parse_args(argv)
    smoke = args.smoke_test or os.environ.get("OVERTONE_SMOKE_TEST") == "1"
    rounds = 10 if smoke else 100
    search_space = {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "error"],
        "nthread": 1,
        "max_depth": tune.randint(1, 9),
        "min_child_weight": tune.choice([1, 2, 3]),
        "subsample": tune.uniform(0.5, 1.0),
        "eta": tune.loguniform(1e-4, 1e-1),
        "num_boost_round": rounds,
    }
    tuner = tune.Tuner(
        tune.with_resources(train_breast_cancer, {"cpu": 1, "gpu": args.gpus_per_trial}),
        param_space=search_space,
        tune_config=tune.TuneConfig(
            metric="eval-logloss",
            mode="min",
            num_samples=4 if smoke else 20,
            scheduler=ASHAScheduler(max_t=rounds, grace_period=2, reduction_factor=2),
            seed=0,
        ),
        run_config=tune.RunConfig(
            name="xgboost_breast_cancer",
            storage_path=args.storage_path or os.environ.get("OVERTONE_STORAGE_PATH"),
            verbose=0 if smoke else 1,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    booster = TuneReportCheckpointCallback.get_model(best.checkpoint)
    data, labels = sklearn.datasets.load_breast_cancer(return_X_y=True)
    _, xv, _, yv = train_test_split(data, labels, test_size=0.25, random_state=0)
    accuracy = sklearn.metrics.accuracy_score(yv, booster.predict(xgb.DMatrix(xv)) > 0.5)
    print(f"best config: {best.config}")
    print(
        f"best eval-logloss: {best.metrics['eval-logloss']:.4f}; its booster's accuracy: "
        f"{accuracy:.3f}"
    )
    return results


if __name__ == "__main__":
    main()
