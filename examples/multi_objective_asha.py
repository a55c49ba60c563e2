"""Multi-objective early stopping: MO-ASHA keeps the trials on the loss/latency Pareto front.

A "model" whose width trades loss against latency is trained for up to 27 epochs; ASHA, given
two metrics, promotes trials at each rung by Pareto rank and stops the others. Runs in seconds:

    python examples/multi_objective_asha.py
"""

from __future__ import annotations

import math
import tempfile

from overtone import tune
from overtone.tune.schedulers import ASHAScheduler


def train(config):
    width, dropout = config["width"], config["dropout"]
    for epoch in range(1, 28):
        underfit = 1.0 / math.sqrt(width) + abs(dropout - 0.2)
        tune.report(
            {
                "loss": underfit + 0.5 / epoch,
                "latency": 0.01 * width * (1 + dropout),
            }
        )


def main(storage_path: str) -> None:
    tuner = tune.Tuner(
        train,
        param_space={"width": tune.qrandint(4, 256, 4), "dropout": tune.uniform(0.0, 0.6)},
        tune_config=tune.TuneConfig(
            metric=["loss", "latency"],
            mode=["min", "min"],
            scheduler=ASHAScheduler(max_t=27, grace_period=1, reduction_factor=3),
            num_samples=40,
            seed=0,
        ),
        run_config=tune.RunConfig(storage_path=storage_path, verbose=0),
    )
    grid = tuner.fit()
    front = sorted(grid.get_pareto_front(), key=lambda r: r.metrics["latency"])
    spent = sum(r.metrics["training_iteration"] for r in grid)
    print(f"{len(grid)} trials, {spent} epochs of {27 * len(grid)}; the Pareto front:")
    for r in front:
        print(
            f"  width={r.config['width']:>3} dropout={r.config['dropout']:.2f}  "
            f"loss={r.metrics['loss']:.3f} latency={r.metrics['latency']:.3f}"
        )
    points = [[r.metrics["loss"], r.metrics["latency"]] for r in grid]
    print(f"hypervolume (reference 2, 6): {tune.hypervolume(points, [2.0, 6.0]):.3f}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
