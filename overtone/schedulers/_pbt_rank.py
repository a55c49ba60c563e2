"""PBT's population, ranked by score: who is in the bottom and the top quantile.

Kept sorted as results come (``bisect``), so a decision costs O(log n) to find a trial's
rank plus the insertion, not a sort of the population.
"""

from __future__ import annotations

import bisect
import math


class Ranking:
    """The trials' latest scores at a perturbation time, sorted worst first.

    Args:
        quantile_fraction: the share of the population in the bottom (and the top) quantile.
    """

    def __init__(self, quantile_fraction: float) -> None:
        self.quantile_fraction = quantile_fraction
        self.ranked: list[tuple[float, str]] = []  # (signed score, trial), worst first
        self._key: dict[str, tuple[float, str]] = {}

    def __len__(self) -> int:
        return len(self.ranked)

    def set(self, trial_id: str, score: float) -> None:
        """Rank ``trial_id`` by ``score`` (signed: higher is better), replacing its old one."""
        self.remove(trial_id)
        key = (score, trial_id)
        bisect.insort(self.ranked, key)
        self._key[trial_id] = key

    def remove(self, trial_id: str) -> None:
        old = self._key.pop(trial_id, None)
        if old is not None:
            del self.ranked[bisect.bisect_left(self.ranked, old)]

    def quantile_size(self) -> int:
        """How many trials each quantile holds: 0 for a population of one."""
        n = len(self.ranked)
        if n <= 1:
            return 0
        k = int(math.ceil(n * self.quantile_fraction))
        return min(k, n // 2)

    def in_lower(self, trial_id: str) -> bool:
        key = self._key.get(trial_id)
        if key is None:
            return False
        return bisect.bisect_left(self.ranked, key) < self.quantile_size()

    def quantiles(self) -> tuple[list[str], list[str]]:
        """(bottom, top) trial ids, worst first and best last."""
        k = self.quantile_size()
        if k == 0:
            return [], []
        return [t for _, t in self.ranked[:k]], [t for _, t in self.ranked[-k:]]

    def top(self, index: int) -> str:
        """The ``index``-th trial of the top quantile (0: its worst)."""
        return self.ranked[len(self.ranked) - self.quantile_size() + index][1]
