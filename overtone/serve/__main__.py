"""``python -m overtone.serve EXPERIMENT_PATH --predictor module:Class ...``."""

from __future__ import annotations

import argparse
import sys

from overtone.serve._cli import add_arguments, main


def _main() -> int:
    parser = argparse.ArgumentParser(
        prog="overtone serve",
        description="Serve the best checkpoint of an experiment over HTTP.",
    )
    add_arguments(parser)
    return main(parser.parse_args())


if __name__ == "__main__":
    sys.exit(_main())
