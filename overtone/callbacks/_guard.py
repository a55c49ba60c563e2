"""Isolation of callback failures: one broken callback must not end the experiment."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from overtone._trial import FrozenTrial
from overtone.callbacks._base import Callback

logger = logging.getLogger("overtone.callbacks")


class CallbackList(Callback):
    """Calls every callback's hook in order; a callback that raises does not stop the others.

    The first failure of each callback in each hook is reported with its traceback (to
    ``stream`` when given, else to the ``overtone.callbacks`` logger); later failures of the
    same callback and hook are only counted, and :meth:`on_experiment_end` reports the
    counts. With ``fail_fast=True`` the first exception is raised again instead, so that it
    ends the experiment.

    It is itself a :class:`Callback` and a sequence of the callbacks it holds.

    Example::

        callbacks = CallbackList([JsonLoggerCallback(), my_callback], fail_fast=False)
        callbacks.on_trial_result(iteration, trials, trial, result)
    """

    def __init__(
        self,
        callbacks: Iterable[Callback] | None = None,
        fail_fast: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self._callbacks: list[Callback] = list(callbacks or [])
        for cb in self._callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks holds {cb!r}, but every callback must be a tune.Callback "
                    "(subclass it and override the hooks you need)"
                )
        self.fail_fast = fail_fast
        self._stream = stream
        #: failures so far, by (callback's position, hook name)
        self.errors: dict[tuple[int, str], int] = {}

    # -- the sequence -------------------------------------------------------------------
    def __iter__(self) -> Iterator[Callback]:
        return iter(self._callbacks)

    def __len__(self) -> int:
        return len(self._callbacks)

    def __getitem__(self, index: int) -> Callback:
        return self._callbacks[index]

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def __repr__(self) -> str:
        return f"CallbackList({self._callbacks!r}, fail_fast={self.fail_fast})"

    # -- the hooks ----------------------------------------------------------------------
    @property
    def _needs_trial_dir_at_start(self) -> bool:  # type: ignore[override]
        return any(cb._needs_trial_dir_at_start for cb in self._callbacks)

    def _trial_files(self, trial: FrozenTrial) -> list[str]:
        names: list[str] = []
        for i, cb in enumerate(self._callbacks):
            try:
                names.extend(cb._trial_files(trial))
            except Exception as exc:
                self._failed(i, cb, "_trial_files", exc)
        return names

    def setup(self, stop: Any = None, num_samples: int | None = None, **info: Any) -> None:
        for i, cb in enumerate(self._callbacks):
            try:
                cb.setup(stop=stop, num_samples=num_samples, **info)
            except Exception as exc:
                self._failed(i, cb, "setup", exc)

    def on_trial_start(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        for i, cb in enumerate(self._callbacks):
            try:
                cb.on_trial_start(iteration, trials, trial, **info)
            except Exception as exc:
                self._failed(i, cb, "on_trial_start", exc)

    def on_trial_result(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        for i, cb in enumerate(self._callbacks):
            try:
                cb.on_trial_result(iteration, trials, trial, result, **info)
            except Exception as exc:
                self._failed(i, cb, "on_trial_result", exc)

    def on_trial_complete(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        for i, cb in enumerate(self._callbacks):
            try:
                cb.on_trial_complete(iteration, trials, trial, **info)
            except Exception as exc:
                self._failed(i, cb, "on_trial_complete", exc)

    def on_trial_error(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        for i, cb in enumerate(self._callbacks):
            try:
                cb.on_trial_error(iteration, trials, trial, **info)
            except Exception as exc:
                self._failed(i, cb, "on_trial_error", exc)

    def on_checkpoint(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        checkpoint: Any,
        **info: Any,
    ) -> None:
        for i, cb in enumerate(self._callbacks):
            try:
                cb.on_checkpoint(iteration, trials, trial, checkpoint, **info)
            except Exception as exc:
                self._failed(i, cb, "on_checkpoint", exc)

    def on_experiment_end(self, trials: list[FrozenTrial], **info: Any) -> None:
        for i, cb in enumerate(self._callbacks):
            try:
                cb.on_experiment_end(trials, **info)
            except Exception as exc:
                self._failed(i, cb, "on_experiment_end", exc)
        repeated = {key: n for key, n in self.errors.items() if n > 1}
        for (i, hook), n in repeated.items():
            self._emit(
                f"Callback {_name(self._callbacks[i])}.{hook} raised {n} times in all "
                "during this experiment (only the first traceback was shown)."
            )

    # -- failures -----------------------------------------------------------------------
    def _failed(self, index: int, cb: Callback, hook: str, exc: Exception) -> None:
        if self.fail_fast:
            raise exc
        key = (index, hook)
        count = self.errors.get(key, 0) + 1
        self.errors[key] = count
        if count > 1:
            return
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._emit(
            f"Callback {_name(cb)}.{hook} raised an exception; the experiment goes on, and "
            "further failures of this hook are counted but not shown "
            "(set fail_fast to stop instead):\n" + text.rstrip()
        )

    def _emit(self, message: str) -> None:
        if self._stream is not None:
            self._stream.write(message + "\n")
            self._stream.flush()
        else:
            logger.error(message)


def _name(cb: Callback) -> str:
    return type(cb).__name__
