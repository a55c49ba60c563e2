"""The terminal the live progress table is drawn on: whether the stream is one, its size,
and a frame cut to fit it."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from typing import Any

from overtone.progress._table import abbreviate


def is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def terminal_size(stream: Any) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        size = shutil.get_terminal_size()
    return max(1, size.columns), max(1, size.lines)


def count_rows(lines: Sequence[str], columns: int) -> int:
    """Terminal rows the lines take once long ones wrap."""
    return sum(max(1, math.ceil(len(line) / columns)) for line in lines)


def fit_rows(lines: list[str], columns: int, max_rows: int) -> list[str]:
    """Cut a live frame to the terminal's height: lines above the top could not be redrawn."""
    if count_rows(lines, columns) <= max_rows or max_rows < 2:
        return lines
    kept: list[str] = []
    used = 0
    for line in lines:
        rows = count_rows([line], columns)
        if used + rows > max_rows - 1:
            break
        kept.append(line)
        used += rows
    note = f"... {len(lines) - len(kept)} more lines (enlarge the terminal to see them)"
    return [*kept, abbreviate(note, columns)]
