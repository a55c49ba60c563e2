"""Hostile inputs and faults (issue 13): one test per way a trial, a disk or a stranger can
try to lose an experiment. The Dask tests reuse the real-cluster helpers of tests/executors."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "executors"))
