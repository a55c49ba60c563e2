"""What an experiment prints: the reporter for a verbosity level, the per-trial lines and the
summary at the end, as callbacks beside every other output.

:func:`make_reporter` picks the status reporter (see ``_reporter``'s docstring for the
levels); :class:`TrialProgressPrinter` prints a line per result or finished trial; the
controller's own output is :class:`ExperimentOutput`, one callback that drives the reporter
and prints those lines and the final summary.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from overtone._trial import FrozenTrial
from overtone.callbacks import Callback
from overtone.progress._reporter import CLIReporter, ProgressReporter, _SummaryReporter
from overtone.progress._table import (
    best_trial,
    can_draw_boxes,
    final_summary,
    format_trial_end_line,
    format_trial_result_line,
    searched_keys,
)
from overtone.storage._layout import checkpoint_iteration


def make_reporter(
    verbose: int,
    stream: TextIO | None = None,
    reporter: ProgressReporter | None = None,
    log_interval_s: float | None = None,
) -> ProgressReporter | None:
    """The progress reporter for a verbosity level (see the module docstring for the levels).

    Returns None at verbose 0, even when ``reporter`` is given (as Ray Tune does); otherwise
    ``reporter`` when given; else at verbose 1 a reporter that prints only the final summary,
    and at verbose 2 and 3 a :class:`CLIReporter`, which reports every ``log_interval_s``
    seconds (default 5) when its stream is not a terminal.

    Example::

        reporter = make_reporter(2)
        if reporter is not None and reporter.should_report(trials):
            reporter.report(trials, False, "Logical resource usage: 2.0/8 CPUs")
    """
    if isinstance(verbose, bool) or not isinstance(verbose, int) or not 0 <= verbose <= 3:
        raise ValueError(f"verbose is {verbose!r}, but must be 0, 1, 2 or 3")
    if verbose == 0:
        return None
    if reporter is not None:
        return reporter
    if verbose == 1:
        return _SummaryReporter(stream=stream)

    # A notebook gets an HTML table updated in place (a kernel has imported IPython).
    if stream is None and "IPython" in sys.modules:
        from overtone.progress._notebook import JupyterNotebookReporter, in_notebook

        if in_notebook():
            return JupyterNotebookReporter()
    made = CLIReporter(stream=stream)
    if log_interval_s is not None:
        made._log_frequency = log_interval_s
    return made


class TrialProgressPrinter(Callback):
    """A callback that prints a line per finished trial (verbose >= 2) and per result (3).

    Args:
        verbose: the verbosity level; below 2 it prints nothing.
        stream: where to print when no ``reporter`` is given; None is ``sys.stdout``.
        reporter: when given, lines go through its :meth:`ProgressReporter.print_line`, which
            keeps a live table below them.
        detailed: print every result key (and the parameters) in the per-result lines.
        clock: seconds, for the experiment's running time.
    """

    _needs_trial_dir_at_start = False  # it writes nothing in a trial's folder

    def __init__(
        self,
        verbose: int = 2,
        stream: TextIO | None = None,
        reporter: ProgressReporter | None = None,
        detailed: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verbose = verbose
        self._stream = stream
        self._reporter = reporter
        self._detailed = detailed
        self._clock = clock
        self._start = clock()

    def setup(self, stop: Any = None, num_samples: int | None = None, **info: Any) -> None:
        self._start = self._clock()

    def on_trial_result(
        self,
        iteration: int,
        trials: list[FrozenTrial],
        trial: FrozenTrial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        if self._verbose >= 3:
            self._print(format_trial_result_line(trial, result, self._detailed))

    def on_trial_complete(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        if self._verbose >= 2:
            elapsed = self._clock() - self._start
            self._print(format_trial_end_line(trial, elapsed, errored=False))

    def on_trial_error(
        self, iteration: int, trials: list[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        if self._verbose >= 2:
            elapsed = self._clock() - self._start
            self._print(format_trial_end_line(trial, elapsed, errored=True))

    def _print(self, text: str) -> None:
        if self._reporter is not None:
            self._reporter.print_line(text)
            return
        out = self._stream if self._stream is not None else sys.stdout
        out.write(text + "\n")
        out.flush()


class ExperimentOutput(Callback):
    """The controller's progress output: the reporter's periodic and final reports, a line per
    result (verbose 3) and per finished trial (verbose >= 2), and the summary at the end
    (verbose >= 1) with the best trials and the best trial's latest checkpoint.

    Args:
        verbose: the verbosity level.
        reporter: the status reporter, or None.
        stream: where lines go when the reporter cannot print them; None is ``sys.stdout``.
        snapshots: every trial of the experiment, as snapshots.
        sys_info: extra lines for the reporter (the resources in use).
        metric, mode, experiment_path: for the final summary.
        param_space: the experiment's space: its searched keys are the summary's columns.
        interval_s: the least time between two periodic reports.
        clock: seconds since the epoch; the experiment started at ``start_time``.
    """

    _needs_trial_dir_at_start = False  # it writes nothing in a trial's folder

    def __init__(
        self,
        verbose: int,
        reporter: ProgressReporter | None,
        stream: TextIO | None,
        snapshots: Callable[[], list[FrozenTrial]],
        sys_info: Callable[[], list[str]],
        *,
        metric: str | None = None,
        mode: str | None = None,
        experiment_path: str | None = None,
        param_space: dict[str, Any] | None = None,
        interval_s: float = 0.5,
        start_time: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._verbose = verbose
        self._reporter = reporter
        self._stream = stream
        self._snapshots = snapshots
        self._sys_info = sys_info
        self._metric, self._mode, self._experiment_path = metric, mode, experiment_path
        self._interval_s = interval_s
        self._clock = clock
        self._start = clock() if start_time is None else start_time
        self._last_report = 0.0
        self._searched = searched_keys(param_space)
        self._checkpoints: dict[str, str] = {}  # trial id -> its latest checkpoint's path

    def tick(self) -> None:
        """Called by the loop at least every ``interval_s``: a periodic report when due."""
        reporter = self._reporter
        if isinstance(reporter, CLIReporter):
            reporter.flush_lines()
        now = self._clock()
        if reporter is not None and now - self._last_report >= self._interval_s:
            self._last_report = now
            if isinstance(reporter, CLIReporter) and not reporter.due():
                return  # no snapshots of every trial until the reporter will show them
            snapshots = self._snapshots()
            if reporter.should_report(snapshots, False):
                reporter.report(snapshots, False, *self._sys_info())

    def on_trial_start(
        self, iteration: int, trials: Sequence[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        if self._last_report == 0.0:  # the first status as soon as the first trial starts
            self.tick()

    def on_trial_result(
        self,
        iteration: int,
        trials: Sequence[FrozenTrial],
        trial: FrozenTrial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        if self._verbose >= 3:
            self._print(format_trial_result_line(trial, result, detailed=False))

    def on_trial_complete(
        self, iteration: int, trials: Sequence[FrozenTrial], trial: FrozenTrial, **info: Any
    ) -> None:
        if self._verbose >= 2:
            self._print(format_trial_end_line(trial, self._clock() - self._start))

    on_trial_error = on_trial_complete  # the line says "errored" from the trial's status

    def on_checkpoint(
        self,
        iteration: int,
        trials: Sequence[FrozenTrial],
        trial: FrozenTrial,
        checkpoint: Any,
        **info: Any,
    ) -> None:
        if isinstance(checkpoint, str):
            self._checkpoints[trial.trial_id] = checkpoint

    def on_experiment_end(self, trials: Sequence[FrozenTrial], **info: Any) -> None:
        snapshots = self._snapshots()
        reporter = self._reporter
        summary_only = isinstance(reporter, _SummaryReporter)  # verbose 1
        if reporter is not None and not summary_only:
            reporter.report(snapshots, True, *self._sys_info())
        if self._verbose >= 2 or summary_only:
            best = best_trial(snapshots, self._metric, self._mode)
            summary = final_summary(
                snapshots,
                self._metric,
                self._mode,
                experiment_path=self._experiment_path,
                total_time_s=self._clock() - self._start,
                best_checkpoint=None if best is None else self._latest_checkpoint(best),
                searched=self._searched,
                ascii_only=not can_draw_boxes(getattr(self._out(), "encoding", None)),
            )
            print(summary, file=self._out(), flush=True)

    def _latest_checkpoint(self, trial: FrozenTrial) -> str | None:
        """The trial's latest checkpoint: the last one announced, else the newest on disk
        (one saved as the trial ended, or before a restore)."""
        known = self._checkpoints.get(trial.trial_id)
        if known is not None and os.path.isdir(known):
            return known
        try:
            names = [n for n in os.listdir(trial.path) if checkpoint_iteration(n) is not None]
        except OSError:
            return known
        if not names:
            return known
        newest = max(names, key=lambda n: (checkpoint_iteration(n), n))
        return os.path.join(trial.path, newest)

    def _print(self, line: str) -> None:
        reporter = self._reporter
        if reporter is not None and hasattr(reporter, "print_line"):
            reporter.print_line(line)  # keeps a live table intact
        else:
            print(line, file=self._out())

    def _out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout


def make_output(
    spec: Any,
    snapshots: Callable[[], list[FrozenTrial]],
    sys_info: Callable[[], list[str]],
    *,
    start_time: float,
    interval_s: float = 0.5,
) -> ExperimentOutput | None:
    """The controller's output for an ``ExperimentSpec``; None when it would do nothing."""
    if spec.reporter is None and spec.verbose < 2:
        return None
    single = not isinstance(spec.metric, list)  # the summary names a best trial by one
    return ExperimentOutput(
        spec.verbose,
        spec.reporter,
        spec.stream,
        snapshots,
        sys_info,
        metric=spec.metric if single else None,
        mode=spec.mode if single else None,
        experiment_path=spec.experiment_path,
        param_space=spec.param_space,
        interval_s=interval_s,
        start_time=start_time,
    )
