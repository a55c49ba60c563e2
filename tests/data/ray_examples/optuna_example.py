"""Optuna through Tune, limited to two concurrent trials, with ``from ray import train, tune``."""

import argparse
import time

import ray
from ray import train, tune
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch


def evaluate(step, width, height, activation):
    time.sleep(0.01)
    activation_boost = 10 if activation == "relu" else 0
    return (0.1 + width * step / 100) ** (-1) + height * 0.1 + activation_boost


def objective(config):
    for step in range(config["steps"]):
        score = evaluate(step, config["width"], config["height"], config["activation"])
        train.report({"iterations": step, "mean_loss": score})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true")
    args, _ = parser.parse_known_args()
    ray.init(configure_logging=False)

    searcher = ConcurrencyLimiter(OptunaSearch(), max_concurrent=2)
    tuner = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(
            metric="mean_loss",
            mode="min",
            search_alg=searcher,
            num_samples=6 if args.smoke_test else 100,
        ),
        run_config=train.RunConfig(verbose=0),
        param_space={
            "steps": 20,
            "width": tune.uniform(0, 20),
            "height": tune.uniform(-100, 100),
            "activation": tune.choice(["relu", "tanh"]),
        },
    )
    results = tuner.fit()
    best = results.get_best_result()
    print("Best hyperparameters found were: ", best.config)
    assert len(results) == (6 if args.smoke_test else 100)
    assert best.metrics["mean_loss"] == min(r.metrics["mean_loss"] for r in results)
