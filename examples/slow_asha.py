"""A slow experiment with the Tuner's default output: 12 trials x 30 steps of 0.2 s, ASHA.

Run it in a terminal to see the live status (trials by state, progress bar with ETA, best
trial so far, every sampled parameter), a line per finished trial and the final summary;
pipe it to a file to see the log form (a status block every 30 s at most).

    python examples/slow_asha.py                       # the issue's example
    python examples/slow_asha.py --samples 2 --steps 5 --sleep 0.05 --storage /tmp/r
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from overtone import tune


def train(config):
    sleep = config["sleep"]
    for step in range(1, config["steps"] + 1):
        time.sleep(sleep)
        loss = (config["lr"] - 0.01) ** 2 + 1 / step + 0.01 * config["layers"]
        loss += 0.001 * config["optimizer"]["momentum"] + 0.0001 * config["width"]
        checkpoint = None
        if step % 5 == 0 or step == config["steps"]:
            folder = tempfile.mkdtemp()
            with open(os.path.join(folder, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            checkpoint = tune.Checkpoint.from_directory(folder)
        tune.report({"loss": loss}, checkpoint=checkpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=6, help="samples per grid value")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sleep", type=float, default=0.2)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--verbose", default=None, help="0-3; default: the Tuner's default")
    args = parser.parse_args()
    space = {
        "lr": tune.loguniform(1e-4, 1e-1),
        "layers": tune.choice([2, 3, 4]),
        "activation": tune.grid_search(["relu", "tanh"]),
        "optimizer": {"momentum": tune.uniform(0.8, 0.99)},
        "width": tune.sample_from(lambda spec: 16 * spec.config["layers"]),
        "steps": args.steps,
        "sleep": args.sleep,
    }
    tuner = tune.Tuner(
        train,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=args.samples,
            scheduler=tune.schedulers.ASHAScheduler(max_t=args.steps, grace_period=2),
            seed=0,
        ),
        run_config=tune.RunConfig(
            name="slow_asha",
            storage_path=args.storage,
            verbose=None if args.verbose is None else int(args.verbose),
        ),
    )
    tuner.fit()
    print("RETURNED", flush=True)


if __name__ == "__main__":
    main()
