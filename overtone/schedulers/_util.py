"""What the schedulers share: argument checks, metric lookup and the seeded generator."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from overtone._checks import check_mode
from overtone._dicts import lookup

__all__ = ["check_mode", "check_number", "lookup", "number"]  # with the names defined below


def check_modes(mode: Any) -> None:
    """``mode`` is None, ``"min"``, ``"max"`` or (several objectives) a list of them."""
    if isinstance(mode, (list, tuple)):
        if not mode or any(m not in ("min", "max") for m in mode):
            raise ValueError(f"mode is {mode!r}, but each entry must be 'min' or 'max'")
        return
    if mode is not None and mode not in ("min", "max"):
        raise ValueError(f"mode is {mode!r}, but must be 'min' or 'max'")


def check_number(
    name: str, value: Any, *, low: float | None = None, strict: bool = False
) -> float:
    """``value`` as a float; ValueError naming ``name`` if it is not a finite number or is
    below ``low`` (or equal to it, with ``strict``)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise ValueError(f"{name} is {value!r}, but must be a finite number")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{name} is {value!r}, but must be {'>' if strict else '>='} {low:g}")
    return float(value)


def number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (NaN included), else None."""
    kind = type(value)
    if kind is float or kind is int:  # the common case, without the ABC check
        return float(value)
    if kind is bool or not isinstance(value, numbers.Real):
        return None
    return float(value)


def sign(mode: str | None) -> float:
    """+1 for ``max`` and -1 for ``min``: a signed score is always maximized."""
    return -1.0 if mode == "min" else 1.0


def signed_score(result: dict[str, Any], metric: str | None, mode: str | None) -> float | None:
    """The metric, signed so that larger is better; -inf for NaN; None if absent."""
    if metric is None:
        return None
    value = number(lookup(result, metric))
    if value is None:
        return None
    if value != value:  # NaN: the worst possible score
        return -math.inf
    return value if mode != "min" else -value


def objective_point(
    result: dict[str, Any], metrics: list[str], modes: list[str]
) -> tuple[float, ...] | None:
    """Several objectives of a result as a point to minimize; None if one is missing."""
    from overtone._pareto import to_minimize

    return to_minimize(result, metrics, modes)


def objectives(scheduler: Any) -> tuple[list[str], list[str]] | None:
    """The scheduler's metrics and modes as two lists of one length when it has several
    objectives (a single mode applies to every metric), else None."""
    metric, mode = scheduler.metric, scheduler.mode
    if not isinstance(metric, (list, tuple)):
        if isinstance(mode, (list, tuple)):
            raise ValueError(f"mode is the list {mode!r}, but metric {metric!r} is not a list")
        return None
    from overtone._checks import check_objectives

    metrics, modes = check_objectives(list(metric), mode)
    return metrics, modes


def generator(seed: Any) -> np.random.Generator:
    """The scheduler's own generator: seeded when a seed is known, from OS entropy if not."""
    import numpy as np  # here: FIFO, the default scheduler, draws nothing

    return np.random.default_rng(seed)


class Seeded:
    """A mixin for schedulers that draw random numbers: ``self._rng`` is seeded by the
    constructor's ``seed`` or, failing that, by the experiment's (``set_search_properties``)."""

    _seed: Any = None
    _rng: np.random.Generator

    def _init_seed(self, seed: Any) -> None:
        self._seed = seed
        self._rng = generator(seed)

    def _take_seed(self, spec: dict[str, Any]) -> None:
        seed = spec.get("seed")
        if self._seed is None and seed is not None:
            self._seed = seed
            self._rng = generator(seed)


def ensure_metric_mode(scheduler: Any) -> None:
    """Raise a clear error if a scheduler that ranks trials has no metric or mode."""
    if scheduler.metric is None or scheduler.mode is None:
        name = type(scheduler).__name__
        raise ValueError(
            f"{name} has metric {scheduler.metric!r} and mode {scheduler.mode!r}, but needs "
            f"both: pass metric= and mode= to {name}(...) or to tune.TuneConfig / tune.run"
        )
