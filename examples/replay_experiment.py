"""Replay and simulate: what would ASHA have found, and saved, on an experiment already run?

First a small real experiment runs every trial to its end (FIFO). ``tune.replay`` then plays
its recorded learning curves back under ASHA on a simulated clock, through the real
controller, and reports what ASHA would have found and what it would have cost. Last, a
``SimulatedExecutor`` runs 2,000 trials of a synthetic curve in a few seconds. Runs in
seconds:

    python examples/replay_experiment.py
"""

from __future__ import annotations

import tempfile
import time

from overtone import tune
from overtone.tune.schedulers import ASHAScheduler


def train(config):
    for epoch in range(1, 28):
        time.sleep(0.001)  # the "training"
        tune.report({"loss": config["lr_penalty"] + 0.5 / epoch ** config["speed"]})


def main(storage_path: str) -> None:
    recorded = tune.Tuner(
        train,
        param_space={"lr_penalty": tune.uniform(0, 1), "speed": tune.uniform(0.5, 1.5)},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=30, seed=0),
        run_config=tune.RunConfig(name="recorded", storage_path=storage_path, verbose=0),
    ).fit()
    report = tune.replay(
        recorded.experiment_path,
        scheduler=ASHAScheduler(max_t=27, grace_period=1, reduction_factor=3),
        num_slots=2,
        storage_path=storage_path,
    )
    print(report)

    def curve(config, t):  # a synthetic benchmark: each epoch takes 30 simulated seconds
        return {"loss": config["q"] + 1.0 / t, "time_this_iter_s": 30.0}

    sim = tune.SimulatedExecutor(curve, num_slots=16, max_iterations=81)
    start = time.perf_counter()
    grid = tune.Tuner(
        lambda config: None,  # not run: the SimulatedExecutor makes the results
        param_space={"q": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=2000,
            scheduler=ASHAScheduler(max_t=81, reduction_factor=3),
            seed=0,
        ),
        run_config=tune.RunConfig(
            storage_path=storage_path, executor=sim, verbose=0, default_loggers=False
        ),
    ).fit()
    print(
        f"simulated {len(grid)} trials, {sim.iterations} epochs, {sim.clock.time() / 3600:.1f} "
        f"simulated hours on 16 slots, in {time.perf_counter() - start:.1f} s; best q = "
        f"{grid.get_best_result().config['q']:.4f}"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
