"""The stoppers of ``ray.tune.stopper``, and ``make_stopper`` for the ``stop=`` argument."""

from __future__ import annotations

import datetime
import math
import numbers
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any

from overtone._checks import check_mode, is_number
from overtone._dicts import lookup
from overtone.stopper._base import Stopper

_MISSING = object()


def _lookup(result: Mapping[str, Any], key: str) -> Any:
    return lookup(result, key, _MISSING)


def _flat_keys(result: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in result.items():
        if not prefix and key == "config":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            keys.extend(_flat_keys(value, f"{name}/"))
        else:
            keys.append(name)
    return keys


def _check_number(name: str, value: Any, rule: str, ok: Callable[[float], bool]) -> None:
    if not is_number(value) or not ok(value):
        raise ValueError(f"{name} is {value!r}, but must be {rule}")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} is {value!r}, but must be an integer >= {minimum}")


class NoopStopper(Stopper):
    """Never stops anything."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return False


class MaximumIterationStopper(Stopper):
    """Stops a trial once it has reached ``max_iter`` iterations.

    The iteration is the result's ``training_iteration``, so the count survives a restore;
    a result without it counts as one more iteration of that trial.
    """

    def __init__(self, max_iter: int) -> None:
        _check_int("max_iter", max_iter, 1)
        self._max_iter = int(max_iter)
        self._iter: dict[str, int] = defaultdict(int)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        iteration = result.get("training_iteration")
        if is_number(iteration):
            self._iter[trial_id] = int(iteration)
        else:
            self._iter[trial_id] += 1
        return self._iter[trial_id] >= self._max_iter

    def stop_all(self) -> bool:
        return False


class TrialPlateauStopper(Stopper):
    """Stops a trial once its metric has plateaued.

    The metric has plateaued when the standard deviation of its last ``num_results`` values
    is below ``std``, after at least ``grace_period`` results. With ``metric_threshold``, the
    trial only stops if the current value is also at or better than the threshold for ``mode``.
    """

    def __init__(
        self,
        metric: str,
        std: float = 0.01,
        num_results: int = 4,
        grace_period: int = 4,
        metric_threshold: float | None = None,
        mode: str | None = None,
    ) -> None:
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric is {metric!r}, but must be a non-empty string")
        _check_number("std", std, "a number >= 0", lambda v: v >= 0)
        _check_int("num_results", num_results, 1)
        _check_int("grace_period", grace_period, 0)
        check_mode(mode)
        if metric_threshold is not None:
            _check_number("metric_threshold", metric_threshold, "a number", lambda v: True)
            if mode is None:
                raise ValueError(
                    f"metric_threshold is {metric_threshold!r}, so mode must be 'min' or "
                    "'max', but it is None"
                )
        self._metric = metric
        self._std = float(std)
        self._num_results = int(num_results)
        self._grace_period = int(grace_period)
        self._metric_threshold = metric_threshold
        self._mode = mode
        self._iter: dict[str, int] = defaultdict(int)
        self._values: dict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=self._num_results)
        )

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self._iter[trial_id] += 1
        value = _lookup(result, self._metric)
        if not is_number(value):
            return False
        window = self._values[trial_id]
        window.append(float(value))
        if self._iter[trial_id] < self._grace_period or len(window) < self._num_results:
            return False
        if self._metric_threshold is not None:
            if self._mode == "min" and value > self._metric_threshold:
                return False
            if self._mode == "max" and value < self._metric_threshold:
                return False
        mean = sum(window) / len(window)
        current_std = math.sqrt(sum((v - mean) ** 2 for v in window) / len(window))
        return current_std < self._std

    def stop_all(self) -> bool:
        return False

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_iter"] = dict(self._iter)
        state["_values"] = {k: list(v) for k, v in self._values.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        values = state.pop("_values")
        iters = state.pop("_iter")
        self.__dict__.update(state)
        self._iter = defaultdict(int, iters)
        self._values = defaultdict(lambda: deque(maxlen=self._num_results))
        for key, window in values.items():
            self._values[key].extend(window)


class ExperimentPlateauStopper(Stopper):
    """Stops the whole experiment once the best ``top`` results have plateaued.

    The top values (lowest for ``mode="min"``, highest for ``"max"``) over all trials have
    plateaued when their standard deviation is at most ``std``; the experiment stops after that
    has held for ``patience`` further results.
    """

    def __init__(
        self,
        metric: str,
        std: float = 0.001,
        top: int = 10,
        mode: str = "min",
        patience: int = 0,
    ) -> None:
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric is {metric!r}, but must be a non-empty string")
        check_mode(mode, required=True)
        # The standard deviation of one value is always 0, so top=1 would stop at once.
        _check_int("top", top, 2)
        _check_int("patience", patience, 0)
        _check_number("std", std, "a number >= 0", lambda v: v >= 0)
        self._metric = metric
        self._std = float(std)
        self._top = int(top)
        self._mode = mode
        self._patience = int(patience)
        self._iterations = 0
        self._top_values: list[float] = []

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = _lookup(result, self._metric)
        if not is_number(value) or math.isnan(value):
            return self.stop_all()
        values = sorted([*self._top_values, float(value)])
        self._top_values = values[: self._top] if self._mode == "min" else values[-self._top :]
        if self.has_plateaued():
            self._iterations += 1
        else:
            self._iterations = 0
        return self.stop_all()

    def has_plateaued(self) -> bool:
        if len(self._top_values) < self._top:
            return False
        mean = sum(self._top_values) / len(self._top_values)
        variance = sum((v - mean) ** 2 for v in self._top_values) / len(self._top_values)
        return math.sqrt(variance) <= self._std

    def stop_all(self) -> bool:
        return self.has_plateaued() and self._iterations >= self._patience


class TimeoutStopper(Stopper):
    """Stops the whole experiment after ``timeout`` (seconds, or a ``datetime.timedelta``).

    The timer starts on the first call. When pickled, the time left is kept and the timer
    resumes on the next call, so time spent while the experiment was down is not counted.

    Args:
        timeout: the time budget.
        clock: returns the current time in seconds; inject a fake one in tests.
    """

    def __init__(
        self,
        timeout: float | datetime.timedelta,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(timeout, datetime.timedelta):
            seconds = timeout.total_seconds()
        elif is_number(timeout):
            seconds = float(timeout)
        else:
            raise ValueError(
                f"timeout is {timeout!r}, but must be a number of seconds or a datetime.timedelta"
            )
        if not seconds >= 0:
            raise ValueError(f"timeout is {timeout!r}, but must be >= 0 seconds")
        self._timeout_seconds = seconds
        self._budget = seconds
        self._last_check: float | None = None
        self._clock = clock

    def _tick(self) -> None:
        now = self._clock()
        if self._last_check is not None:
            self._budget -= now - self._last_check
        self._last_check = now

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self._tick()
        return False

    def stop_all(self) -> bool:
        self._tick()
        return self._budget <= 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._last_check is not None:
            state["_budget"] = self._budget - (self._clock() - self._last_check)
        state["_last_check"] = None
        del state["_clock"]  # an injected clock may not pickle; the restored one is real time
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._clock = time.monotonic


class CombinedStopper(Stopper):
    """Stops a trial (or the experiment) when any of ``stoppers`` says so.

    Every stopper sees every result, even after an earlier one has said stop, so that
    stateful stoppers keep counting.
    """

    def __init__(self, *stoppers: Stopper) -> None:
        for stopper in stoppers:
            if not isinstance(stopper, Stopper):
                raise TypeError(f"{stopper!r} is not a tune.Stopper")
        self._stoppers = list(stoppers)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        decisions = [stopper(trial_id, result) for stopper in self._stoppers]
        return any(decisions)

    def stop_all(self) -> bool:
        decisions = [stopper.stop_all() for stopper in self._stoppers]
        return any(decisions)


class FunctionStopper(Stopper):
    """Wraps ``fn(trial_id, result) -> bool``; never stops the whole experiment."""

    def __init__(self, function: Callable[[str, dict[str, Any]], bool]) -> None:
        if not callable(function):
            raise TypeError(f"function is {function!r}, but must be callable")
        self._fn = function

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return bool(self._fn(trial_id, result))

    def stop_all(self) -> bool:
        return False

    @classmethod
    def is_valid_function(cls, fn: Any) -> bool:
        """Whether ``fn`` is a plain callable rather than a ``Stopper``."""
        is_function = callable(fn) and not isinstance(fn, Stopper)
        if is_function and hasattr(fn, "stop_all"):
            raise ValueError(
                f"{fn!r} has a stop_all method but is not a tune.Stopper; subclass tune.Stopper "
                "so that it is used as one"
            )
        return is_function


class DictStopper(Stopper):
    """Stops a trial once ``result[key] >= value`` for any ``key, value`` of ``criteria``.

    Keys may be paths ``"a/b"`` into nested results; nested criteria dicts are read the same way.
    """

    def __init__(self, criteria: Mapping[str, Any]) -> None:
        if not isinstance(criteria, Mapping):
            raise TypeError(f"criteria is {criteria!r}, but must be a dict")
        self._criteria = self._flatten(criteria)

    @classmethod
    def _flatten(cls, criteria: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for key, value in criteria.items():
            if not isinstance(key, str):
                raise TypeError(f"stop criterion key {key!r} must be a string")
            if isinstance(value, Mapping):
                flat.update(cls._flatten(value, f"{prefix}{key}/"))
            else:
                flat[f"{prefix}{key}"] = value
        return flat

    @property
    def criteria(self) -> dict[str, Any]:
        return dict(self._criteria)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        for key, limit in self._criteria.items():
            value = _lookup(result, key)
            if value is _MISSING:
                raise ValueError(
                    f"stopping criterion {key!r} is not in the result of trial {trial_id}; "
                    f"the result has: {sorted(_flat_keys(result))}"
                )
            try:
                reached = value >= limit
            except TypeError as exc:
                raise TypeError(
                    f"stopping criterion {key!r}: cannot compare the reported {value!r} "
                    f"with {limit!r}"
                ) from exc
            if reached:
                return True
        return False

    def stop_all(self) -> bool:
        return False


def make_stopper(stop: Any) -> Stopper | None:
    """Turn the ``stop=`` argument (None, a dict, a callable or a Stopper) into a Stopper."""
    if stop is None:
        return None
    if isinstance(stop, Stopper):
        return stop
    if isinstance(stop, Mapping):
        return DictStopper(stop)
    if callable(stop):
        if hasattr(stop, "stop_all"):
            raise TypeError(
                f"stop is {stop!r}, which has a stop_all method but is not a tune.Stopper; "
                "subclass tune.Stopper"
            )
        return FunctionStopper(stop)
    raise TypeError(
        f"stop is {stop!r}, but must be None, a dict, a function (trial_id, result) -> bool "
        "or a tune.Stopper"
    )
