"""The end of an experiment: stopping the workers and writing the final state whatever fails
on the way, and SIGTERM turned into the same clean stop as Ctrl-C while the loop runs.

The :class:`Controller` calls :func:`teardown` once, after its loop; :func:`on_sigterm` guards
the loop.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from overtone._experiment import ExperimentSpec
from overtone._trial_state import Trial


def teardown(
    spec: ExperimentSpec,
    close_checkpoints: Callable[[], Any],
    trials: Iterable[Trial],
    save_state: Callable[[], Any],
    experiment_end: Callable[[], Any],
    quiet: bool = False,
) -> None:
    """Stop the workers and write the final state, whatever fails on the way: each step
    runs even if one before it raised, and the first error is raised at the end. When
    ``quiet`` (an error ended the loop, and is the one to raise), errors here are only
    printed."""
    errors: list[BaseException] = []

    def step(fn: Any) -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - raised below, after the rest ran
            errors.append(exc)

    step(spec.executor.shutdown)
    step(close_checkpoints)  # every pruned checkpoint is gone before the last save
    for trial in trials:
        step(trial.close)
    step(save_state)
    if spec.remote is not None:
        step(lambda: _close_remote(spec))
    step(experiment_end)
    if errors and not quiet:
        raise errors[0]
    for exc in errors:
        print(
            f"Warning: while stopping the experiment: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )


def _close_remote(spec: ExperimentSpec) -> None:
    remote = spec.remote
    errors = remote.close()
    if errors:
        print(
            f"Warning: not all of the experiment reached {remote.uri}; the complete copy "
            f"is in {spec.experiment_path}:\n  " + "\n  ".join(errors),
            file=sys.stderr,
        )


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same clean stop as Ctrl-C."""


class SigtermGuard:
    def __init__(self, previous: Any) -> None:
        self.previous = previous
        self.received = False

    def __call__(self, signum: int, frame: Any) -> None:
        if not self.received:
            self.received = True
            raise Terminated()

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self.previous)


def on_sigterm() -> SigtermGuard | None:
    """While the experiment runs, SIGTERM stops it as Ctrl-C does (workers stopped, state
    written); then the signal is raised again for the handler that was there before (by
    default, the process ends). Only the main thread can handle signals."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN or previous is None:
            return None  # SIGTERM is ignored, or handled outside Python: leave it so
        guard = SigtermGuard(previous)
        signal.signal(signal.SIGTERM, guard)
    except (ValueError, OSError):
        return None
    return guard
