"""The argument parser of ``overtone`` and the dispatch to each command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from overtone.config import DEFAULT_STORAGE_PATH

SERVE_MODULE = "overtone.serve._cli"


def default_storage() -> str:
    return os.environ.get("OVERTONE_STORAGE_PATH") or DEFAULT_STORAGE_PATH


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="overtone", description="Look at Overtone experiments; serve trained models."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    ls = sub.add_parser("ls", help="list the experiments under a storage path")
    ls.add_argument(
        "storage_path",
        nargs="?",
        default=None,
        help=f"a folder or fsspec URI (default: $OVERTONE_STORAGE_PATH or {DEFAULT_STORAGE_PATH})",
    )
    ls.add_argument("--json", action="store_true", help="print JSON, for scripts")

    show = sub.add_parser("show", help="the trial table of one experiment")
    _add_experiment(show)
    show.add_argument("--sort", metavar="COLUMN", help="sort by a column; '-COLUMN' descending")
    show.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="EXPR",
        help="keep trials matching COLUMN=VALUE (also !=, <, <=, >, >=); repeatable",
    )
    show.add_argument("--columns", metavar="A,B,...", help="the columns to show, in order")
    show.add_argument("--metric", help="the metric (default: the experiment's)")
    show.add_argument("--mode", choices=("min", "max"), help="default: the experiment's")
    show.add_argument("--errors", action="store_true", help="print the failed trials' tracebacks")
    show.add_argument("--json", action="store_true", help="print the rows as JSON")

    export = sub.add_parser("export", help="write the trials (or every result) to a file")
    _add_experiment(export)
    export.add_argument("--format", required=True, choices=("csv", "json", "parquet"))
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    export.add_argument(
        "--results", action="store_true", help="one row per reported result, not per trial"
    )

    dash = sub.add_parser("dashboard", help="a live web dashboard of the experiments")
    dash.add_argument(
        "path", nargs="?", default=None, help="a storage path or URI (or one experiment's folder)"
    )
    dash.add_argument("--host", default="127.0.0.1", help="the interface (default: 127.0.0.1)")
    dash.add_argument("--port", type=int, default=8265, help="the port (default: 8265; 0: any)")
    dash.add_argument(
        "--token",
        help="the token every request must carry; a non-loopback --host gets a generated one",
    )
    dash.add_argument(
        "--refresh", type=float, default=1.0, help="seconds between reads of running experiments"
    )

    sub.add_parser(
        "serve",
        help="serve a trained model over HTTP (see 'overtone serve --help')",
        add_help=False,  # main() hands every argument to the serve module's own parser
    ).add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _add_experiment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "experiment", help="an experiment folder or URI, or a name under --storage-path"
    )
    parser.add_argument(
        "--storage-path",
        default=None,
        help=f"where to find EXPERIMENT by name (default: {DEFAULT_STORAGE_PATH})",
    )


def _serve(rest: Sequence[str]) -> int:
    import importlib

    try:
        module = importlib.import_module(SERVE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in (SERVE_MODULE, "overtone.serve"):
            raise
        print(
            "overtone: error: 'overtone serve' is not available: this installation of overtone "
            f"has no {SERVE_MODULE} module",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog="overtone serve")
    module.add_arguments(parser)
    return int(module.main(parser.parse_args(list(rest))) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":  # its own parser: nothing of overtone's is checked
        return _serve(argv[1:])
    args = build_parser().parse_args(argv)
    from overtone.cli import _commands

    try:
        if args.command == "ls":
            return _commands.ls(args)
        if args.command == "show":
            return _commands.show(args)
        if args.command == "export":
            return _commands.export(args)
        if args.command == "dashboard":
            return _commands.dashboard(args)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"overtone: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    raise AssertionError(f"unknown command {args.command!r}")  # argparse forbids it
