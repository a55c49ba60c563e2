"""``overtone.tune.utils.log``: ``Verbosity``, the levels of ``verbose=``, as in Ray."""

from __future__ import annotations

import enum


class Verbosity(enum.IntEnum):
    """``verbose=`` levels: 0 silent, 1 experiment status, 2 + trial table, 3 + results."""

    V0_MINIMAL = 0
    V1_EXPERIMENT = 1
    V2_TRIAL_NORM = 2
    V3_TRIAL_DETAILS = 3


__all__ = ["Verbosity"]
