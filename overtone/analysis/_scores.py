"""Scores for choosing the best trial or checkpoint, robust to what trials report: huge
integers, values that are no floats, and checkpoints deleted since they were recorded."""

from __future__ import annotations

import logging
import math
import numbers
import os
from fractions import Fraction
from typing import Any

from overtone._checks import is_number
from overtone.checkpoint import Checkpoint

logger = logging.getLogger("overtone.analysis")


Score = float | int | Fraction  # exact where a float cannot hold the value


def score_of(value: Any) -> Score | None:
    """A reported value as a score to compare, or None if it is not a number.

    Integers stay exact: ``10**400`` has no float, but compares correctly with every float
    and int, and counts as finite. Other reals become floats (``±inf`` past the float range);
    a value that cannot become one is no score.
    """
    if not is_number(value):
        return None
    try:
        if isinstance(value, numbers.Integral):
            return int(value)
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError, ArithmeticError):
        return None


def is_nan(score: Score) -> bool:
    return isinstance(score, float) and math.isnan(score)


def is_finite(score: Score) -> bool:
    return not isinstance(score, float) or math.isfinite(score)


def mean_score(values: list[Score]) -> Score:
    """The mean of ``values``: a float, or an exact fraction past the float range."""
    try:
        return sum(values) / len(values)
    except OverflowError:
        pass
    try:
        return sum(map(Fraction, values), Fraction(0)) / len(values)
    except (ValueError, OverflowError):  # a NaN or an infinity among them decides
        return sum(v for v in values if isinstance(v, float))


def _checkpoint_exists(checkpoint: Checkpoint) -> bool:
    fs = checkpoint.filesystem
    try:
        if fs is None:
            return os.path.isdir(checkpoint.path)
        return bool(fs.exists(checkpoint.path))  # type: ignore[attr-defined]
    except OSError:
        return False


def existing_checkpoints(scored: list[tuple[Checkpoint, Any]], owner: str) -> list[Any]:
    """``scored`` without the checkpoints whose folder is gone, warning about those."""
    kept = [item for item in scored if _checkpoint_exists(item[0])]
    if len(kept) < len(scored):
        gone = [item[0].path for item in scored if item not in kept]
        logger.warning(
            "%d checkpoint(s) of %s are recorded but no longer exist, so they are skipped: %s%s",
            len(gone),
            owner,
            ", ".join(gone[:3]),
            " ..." if len(gone) > 3 else "",
        )
    return kept
