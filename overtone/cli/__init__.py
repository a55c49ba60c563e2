"""The ``overtone`` command line: ``ls``, ``show``, ``export``, ``dashboard`` and ``serve``.

Every command reads experiments through :mod:`overtone.cli._views` (read-only), so it works on
finished, running and remote (``s3://``, ``memory://``...) experiments alike. Heavy modules
(pandas, the dashboard's server, serving) are imported only by the command that needs them:
``overtone ls`` stays fast.

Example::

    overtone ls ~/overtone_results
    overtone show my_experiment --sort=-loss --filter status=ERROR --errors
    overtone export my_experiment --format csv -o trials.csv
    overtone dashboard ~/overtone_results --port 8265
"""

from __future__ import annotations

from overtone.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
