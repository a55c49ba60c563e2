"""``overtone serve``: serve an experiment's best checkpoint from a shell.

The main ``overtone`` command adds these arguments to its ``serve`` subcommand and calls
:func:`main`; ``python -m overtone.serve`` does the same on its own.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` arguments to ``parser``."""
    parser.add_argument(
        "experiment_path",
        metavar="EXPERIMENT_PATH",
        help="an experiment folder (its best trial's best checkpoint is served) or a "
        "checkpoint folder",
    )
    parser.add_argument(
        "--predictor",
        required=True,
        metavar="MODULE:CLASS",
        help="the predictor class: __init__(self, checkpoint, config) loads the model, "
        "predict(self, instances) answers a batch; 'sklearn' serves a pickled "
        "scikit-learn estimator (model.pkl)",
    )
    parser.add_argument(
        "--metric", help="the metric that picks the best checkpoint (default: the experiment's)"
    )
    parser.add_argument(
        "--mode",
        choices=("min", "max"),
        help="whether the metric is best low or high (default: the experiment's)",
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="replicas serving at once (default: 1)"
    )
    parser.add_argument("--cpus", type=float, default=1.0, help="CPUs per replica (default 1)")
    parser.add_argument("--gpus", type=float, default=0.0, help="GPUs per replica (default 0)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="where to listen (default: 127.0.0.1; any other host requires a token)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0: any free port)"
    )
    parser.add_argument(
        "--executor",
        default=None,
        help="where replicas run: 'local' (default) or dask://host:port",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="the bearer token every request must "
        "carry (generated and printed for a non-loopback host if not given)",
    )
    parser.add_argument(
        "--name", default="model", help="the model's name in the URL (default: model)"
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="keep reading the experiment and swap to a better checkpoint as one appears",
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=32,
        help="most instances per batch and per request (default 32)",
    )
    parser.add_argument(
        "--batch-wait-timeout",
        type=float,
        default=0.01,
        metavar="SECONDS",
        help="longest a request waits for others to join its batch (default 0.01)",
    )


def main(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the exit status."""
    from overtone import serve
    from overtone.serve._select import is_experiment_dir

    predictor: Any = args.predictor
    if predictor == "sklearn":
        predictor = serve.SklearnPredictor
    source: dict[str, Any] = (
        {"result": args.experiment_path}
        if is_experiment_dir(args.experiment_path)
        else {"checkpoint": args.experiment_path}
    )
    try:
        handle = serve.run(
            predictor,
            **source,
            metric=args.metric,
            mode=args.mode,
            replicas=args.replicas,
            resources={"cpu": args.cpus, "gpu": args.gpus},
            host=args.host,
            port=args.port,
            executor=args.executor,
            name=args.name,
            max_batch_size=args.max_batch_size,
            batch_wait_timeout_s=args.batch_wait_timeout,
            token=args.token,
            follow=args.follow,
        )
    except (ValueError, TypeError, OSError, serve.ServeError) as exc:
        print(f"overtone serve: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # during the start: run() has cleaned up
        print("Interrupted.", file=sys.stderr)
        return 130
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            served = handle.serving
            print(f"Serving {handle.predict_url}", flush=True)
            print(f"  trial:      {served['trial_name'] or '-'} ({served['trial_id'] or '-'})")
            print(f"  config:     {json.dumps(served['config'], default=str)}")
            if served["metric"]:
                print(f"  {served['metric']}: {served['score']}")
            print(f"  checkpoint: {served['checkpoint']}")
            print(
                f"  replicas:   {len(handle.replicas)}"
                + (" (following the experiment)" if args.follow else "")
            )
            if handle.token is not None:
                print(f"  token:      {handle.token}  (send 'Authorization: Bearer <token>')")
            print("Press Ctrl-C to stop.", flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            handle.stop()
        print("Stopped.", flush=True)
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
