"""First in, first out: every trial runs to its end."""

from __future__ import annotations

from overtone.schedulers._base import TrialScheduler


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were created and never stops one early."""

    supports_multi_objective = True
