"""Change a study while it lives, and warm-start a new one from an old one.

1. A study of 6 trials runs. 2. It is restored with a narrower param space and 10 trials in
all: a fresh Optuna searcher over the new space is told about the finished trials first, and
the trials the new space cannot produce are kept and marked ``out_of_space``. 3. A new
experiment starts from the old one's results (``TuneConfig(warm_start=...)``). Runs in
seconds (needs optuna: ``pip install 'overtone[optuna]'``):

    python examples/change_study.py
"""

from __future__ import annotations

import tempfile

from overtone import tune
from overtone.tune.search.optuna import OptunaSearch


def train(config):
    for step in range(1, 4):
        tune.report({"loss": (config["lr"] - 0.02) ** 2 * 1e4 + 1.0 / step})


def main(storage_path: str) -> None:
    first = tune.Tuner(
        train,
        param_space={"lr": tune.loguniform(1e-4, 1.0)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=6, search_alg=OptunaSearch(), seed=0
        ),
        run_config=tune.RunConfig(name="study", storage_path=storage_path, verbose=0),
    ).fit()
    print(f"first: {len(first)} trials, best lr {first.get_best_result().config['lr']:.4g}")

    grid = tune.Tuner.restore(
        first.experiment_path,
        train,
        param_space={"lr": tune.loguniform(1e-2, 5e-2)},  # narrowed
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=10, search_alg=OptunaSearch(), seed=0
        ),
    ).fit()
    analysis = tune.ExperimentAnalysis(grid.experiment_path)
    outside = [t for t in analysis.trials if t.out_of_space]
    print(
        f"restored and changed: {len(grid)} trials, {len(outside)} kept but out of the new "
        f"space; best lr {grid.get_best_result().config['lr']:.4g}"
    )

    warm = tune.Tuner(
        train,
        param_space={"lr": tune.loguniform(1e-4, 1.0)},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=4,
            search_alg=OptunaSearch(),
            warm_start=grid.experiment_path,
        ),
        run_config=tune.RunConfig(storage_path=storage_path, verbose=0),
    ).fit()
    best = warm.get_best_result().config["lr"]
    print(f"warm-started from 10 earlier trials: best of 4 new: lr {best:.4g}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
