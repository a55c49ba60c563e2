"""Population Based Training of a toy class trainable whose state is a returned dict."""

import argparse

import numpy as np
import ray
from ray import train, tune
from ray.tune.schedulers import PopulationBasedTraining


class PBTBenchmarkExample(tune.Trainable):
    """Accuracy grows fastest when lr is near an optimum that falls as accuracy rises."""

    def setup(self, config):
        self.lr = config["lr"]
        self.accuracy = 0.0

    def step(self):
        midpoint = 100
        q_tolerance = 3
        noise_level = 2
        if self.accuracy > midpoint:
            optimal_lr = 0.01 * (midpoint**2) / (self.accuracy**2 + 1)
        else:
            optimal_lr = 0.01
        q_err = max(self.lr, optimal_lr) / min(self.lr, optimal_lr)
        if q_err < q_tolerance:
            self.accuracy += (1.0 / q_err) * np.random.default_rng(self.iteration).random()
        elif self.lr > optimal_lr:
            self.accuracy -= (q_err - q_tolerance) * noise_level
        self.accuracy += noise_level * np.random.default_rng(self.iteration + 7).normal()
        self.accuracy = max(0, self.accuracy)
        return {
            "mean_accuracy": self.accuracy,
            "cur_lr": self.lr,
            "optimal_lr": optimal_lr,
            "q_err": q_err,
            "done": self.accuracy > midpoint * 2,
        }

    def save_checkpoint(self, checkpoint_dir):
        return {"accuracy": self.accuracy, "lr": self.lr}

    def load_checkpoint(self, checkpoint):
        self.accuracy = checkpoint["accuracy"]

    def reset_config(self, new_config):
        self.lr = new_config["lr"]
        self.config = new_config
        return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true")
    args, _ = parser.parse_known_args()
    ray.init()

    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=4,
        hyperparam_mutations={"lr": tune.uniform(0.0001, 0.02)},
    )
    tuner = tune.Tuner(
        PBTBenchmarkExample,
        run_config=train.RunConfig(
            name="pbt_class_api_example",
            stop={"training_iteration": 20 if args.smoke_test else 200},
            verbose=False,
            checkpoint_config=train.CheckpointConfig(
                checkpoint_frequency=4, checkpoint_at_end=True
            ),
        ),
        tune_config=tune.TuneConfig(
            scheduler=pbt,
            metric="mean_accuracy",
            mode="max",
            reuse_actors=True,
            num_samples=4 if args.smoke_test else 8,
        ),
        param_space={"lr": 0.0001, "some_other_factor": 1},
    )
    results = tuner.fit()
    print("Best hyperparameters found were: ", results.get_best_result().config)
    assert results.num_errors == 0, results.errors
