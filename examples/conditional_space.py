"""Conditional search spaces: each branch of a ``tune.choice`` searches its own parameters,
with grids expanded per branch, and a ``sample_from`` may return search-space objects.

Runs in seconds:

    python examples/conditional_space.py
"""

from __future__ import annotations

import math
import tempfile

from overtone import tune


def train(config):
    model = config["model"]
    if model["type"] == "svm":
        loss = abs(math.log10(model["C"]) - 1) / 3
    else:
        loss = 1 / model["n_trees"] ** 0.5 + 0.05 * abs(model["depth"] - 4)
    loss += 0.01 * sum(config["channels"]) / len(config["channels"])
    tune.report({"loss": loss})


SPACE = {
    "model": tune.choice(
        [
            {"type": "svm", "C": tune.loguniform(1e-3, 1e3)},
            {"type": "rf", "n_trees": tune.grid_search([10, 100]), "depth": tune.randint(2, 8)},
        ]
    ),
    "depth": tune.randint(2, 5),
    # One channel count per layer, each drawn on its own.
    "channels": tune.sample_from(lambda spec: [tune.choice([10, 20, 30])] * spec.config.depth),
}


def main(storage_path: str) -> None:
    grid = tune.Tuner(
        train,
        param_space=SPACE,
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=8, seed=0),
        run_config=tune.RunConfig(storage_path=storage_path, verbose=0),
    ).fit()
    print(f"basic generator: {len(grid)} trials (each 'rf' sample ran both n_trees)")
    for r in grid:
        print(f"  {r.config['model']}  channels={r.config['channels']}")
    print("best:", grid.get_best_result().config["model"])

    try:
        from overtone.tune.search.optuna import OptunaSearch
    except ImportError:
        return
    grid = tune.Tuner(
        train,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", search_alg=OptunaSearch(), num_samples=20, seed=0
        ),
        run_config=tune.RunConfig(storage_path=storage_path, verbose=0),
    ).fit()
    print("Optuna, define-by-run along the branches; best:", grid.get_best_result().config)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
