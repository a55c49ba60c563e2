"""``overtone.tune.session``: the trial-session functions of Ray Tune 2.0-2.6.

``tune.get_trial_dir()`` and its kin predate ``tune.get_context()``; each reads the same facts
from it. Outside a trial they return None, as in Ray, and ``is_session_enabled()`` is False.
"""

from __future__ import annotations

from typing import Any

from overtone.runtime._session import _get_session, get_context


def is_session_enabled() -> bool:
    """Whether this code runs inside a trial."""
    return _get_session() is not None


def get_trial_dir() -> str | None:
    return get_context().get_trial_dir() if is_session_enabled() else None


def get_trial_name() -> str | None:
    return get_context().get_trial_name() if is_session_enabled() else None


def get_trial_id() -> str | None:
    return get_context().get_trial_id() if is_session_enabled() else None


def get_trial_resources() -> Any:
    """The trial's resources as ``tune.Resources`` (None outside a trial)."""
    if not is_session_enabled():
        return None
    from overtone._trial import Resources

    return Resources.coerce(get_context().get_trial_resources())


__all__ = [
    "get_trial_dir",
    "get_trial_id",
    "get_trial_name",
    "get_trial_resources",
    "is_session_enabled",
]
