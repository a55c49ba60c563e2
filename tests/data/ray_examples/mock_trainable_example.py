"""The classic API on Tune's mock trainable, with a placement group and the median rule."""

import argparse

import ray
from ray import tune
from ray.tune import CLIReporter
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import MedianStoppingRule
from ray.tune.utils.mock_trainable import MyTrainableClass

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true")
    args, _ = parser.parse_known_args()
    ray.init(num_cpus=2 if args.smoke_test else None)

    analysis = tune.run(
        MyTrainableClass,
        name="median_test",
        scheduler=MedianStoppingRule(grace_period=3),
        metric="episode_reward_mean",
        mode="max",
        stop={TRAINING_ITERATION: 10 if args.smoke_test else 200},
        num_samples=4 if args.smoke_test else 20,
        resources_per_trial=tune.PlacementGroupFactory([{"CPU": 1, "GPU": 0}]),
        progress_reporter=CLIReporter(max_report_frequency=5),
        config={
            "width": tune.randint(10, 100),
            "height": tune.loguniform(10, 100),
        },
        checkpoint_freq=5,
        verbose=1,
    )
    print("Best hyperparameters found were: ", analysis.best_config)
    assert len(analysis.trials) == (4 if args.smoke_test else 20)
