"""The current API: Tuner, TuneConfig, RunConfig, ResultGrid."""

from overtone import tune


def train(config):
    for step in range(20):
        loss = (config["lr"] - 0.01) ** 2 + 1 / (step + 1) + config["momentum"] * 0.01
        tune.report({"loss": loss})


if __name__ == "__main__":
    tuner = tune.Tuner(
        train,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "momentum": tune.uniform(0.0, 0.9)},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=8, seed=0),
        run_config=tune.RunConfig(name="lr_sweep", stop={"training_iteration": 10}),
    )
    results = tuner.fit()
    best = results.get_best_result()
    print("Best config:", best.config)
    print("Best loss:", best.metrics["loss"], "after", best.metrics["training_iteration"], "steps")
    print(results.get_dataframe()[["loss", "config/lr", "config/momentum"]])
