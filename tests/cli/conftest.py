"""Fixtures of the command-line tests (the helpers are in ``cli_helpers``)."""

from __future__ import annotations

from cli_helpers import moto_s3, results

__all__ = ["moto_s3", "results"]
