"""The running trial, as code inside a trainable sees it: its identity and its end.

Integrations that run inside a trial (``setup_mlflow``, ``setup_wandb``, framework callbacks)
use these instead of reaching into the session.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from overtone.runtime._session import _get_session

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialFacts:
    """The running trial's id, name, experiment name and folder (all None outside a trial)."""

    trial_id: str | None = None
    trial_name: str | None = None
    experiment_name: str | None = None
    trial_dir: str | None = None


def current_trial() -> TrialFacts:
    """The running trial's id, name and experiment, or all None outside a trial."""
    session = _get_session()
    if session is None:
        return TrialFacts()
    info = session.info
    return TrialFacts(info.trial_id, info.trial_name, info.experiment_name, info.trial_dir)


def on_trial_exit(fn: Callable[[], None]) -> bool:
    """Call ``fn`` once the running trial's session is gone (when its function returns,
    raises or is stopped). Returns False outside a trial, where nothing is registered.

    Workers run one trial after another, so a run opened by ``setup_mlflow`` or
    ``setup_wandb`` is ended here rather than left open until the worker exits.
    """
    session = _get_session()
    if session is None:
        return False

    def call() -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - runs at an arbitrary point: never raise there
            logger.exception("ending a logging run at the end of a trial failed")

    finalizer = weakref.finalize(session, call)
    finalizer.atexit = False  # at exit the libraries end their runs themselves
    return True
