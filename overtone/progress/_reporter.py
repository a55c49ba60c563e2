"""Progress output: the status table, the per-trial lines and the end-of-experiment summary.

Verbosity levels, as ``verbose`` in ``tune.run`` and ``RunConfig``:

* 0: silent.
* 1: the summary only, when the experiment ends: trial counts, the best trial and its latest
  checkpoint, a table of the 10 best trials.
* 2: as 1, plus the live status (trials by state with those not sampled yet, a progress bar
  with elapsed time, ETA and best value, resources in use, a table with a column per searched
  parameter), redrawn in place in a terminal (at most twice a second) and printed as periodic
  blocks in a log (every 5 s; every 30 s for a Tuner's default output), and one line per
  finished trial. A ``Tuner`` without ``verbose`` shows this level.
* 3: as 2, plus one line per reported result (``tune.run``'s default, as in Ray).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from overtone._trial import FrozenTrial, TrialStatus
from overtone.progress._table import (
    AUTO_RESULT_KEYS,
    abbreviate,
    best_trial,
    can_draw_boxes,
    check_mode,
    column_titles,
    count_line,
    error_file,
    final_summary,
    flatten,
    format_duration,
    format_value,
    is_number,
    lookup,
    metric_value,
    not_created,
    parameter_keys,
    progress_bar,
    render_table,
    searched_keys,
    status_counts,
    status_of,
)
from overtone.progress._terminal import count_rows, fit_rows, is_tty, terminal_size

DEFAULT_METRIC_COLUMNS = {"training_iteration": "iter", "time_total_s": "total time (s)"}
LIVE_REFRESH_S = 0.5
LINE_REDRAW_S = 0.2  # the least time between two redraws for lines printed above the table
LOG_REFRESH_S = 5.0  # Ray's CLIReporter in a log; the default output of a Tuner uses 30 s

_ERASE = "\x1b[{n}F\x1b[J"  # cursor to the start of the line n lines up, clear to the end
_ROW_PRIORITY = {
    TrialStatus.RUNNING: 0,
    TrialStatus.ERROR: 1,
    TrialStatus.PAUSED: 2,
    TrialStatus.PENDING: 3,
    TrialStatus.TERMINATED: 4,
}


class ProgressReporter:
    """Decides when to show the experiment's progress, and shows it.

    The controller calls :meth:`should_report` after each event and :meth:`report` when it
    answers True, and once more with ``done=True`` at the end.
    """

    def should_report(self, trials: Sequence[FrozenTrial], done: bool = False) -> bool:
        raise NotImplementedError

    def report(self, trials: Sequence[FrozenTrial], done: bool, *sys_info: str) -> None:
        raise NotImplementedError

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        return True

    def set_total_samples(self, total_samples: int | None) -> None:
        """The number of trials the experiment will make, when known."""

    def setup(
        self,
        start_time: float | None = None,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Called once before the first trial starts."""

    def print_line(self, text: str) -> None:
        """Print a permanent line (for example a trial's completion) above any live table."""
        print(text, file=sys.stdout, flush=True)


class _StreamReporter(ProgressReporter):
    """What the built-in reporters share: a stream, a clock, metric/mode and the setup info.

    ``start_time`` values are in the units of ``clock`` (``time.monotonic`` by default).
    """

    def __init__(
        self,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_mode(mode)
        self._metric = metric
        self._mode = mode
        self._total_samples = total_samples
        self._stream = stream
        self._clock = clock
        self._start_time = clock()
        self._experiment_path: str | None = None
        self._searched: list[str] | None = None  # the searched config keys, when known

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        check_mode(mode)
        for name, mine, given in (("metric", self._metric, metric), ("mode", self._mode, mode)):
            if mine is not None and given is not None and mine != given:
                raise ValueError(
                    f"{name} is {given!r}, but the reporter was created with {name}={mine!r}; "
                    "pass it to the reporter or to the tune config, not both"
                )
        self._metric = self._metric if metric is None else metric
        self._mode = self._mode if mode is None else mode
        return True

    def set_total_samples(self, total_samples: int | None) -> None:
        self._total_samples = total_samples

    def set_start_time(self, start_time: float | None = None) -> None:
        self._start_time = self._clock() if start_time is None else start_time

    def setup(
        self,
        start_time: float | None = None,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.set_start_time(start_time)
        if total_samples is not None:
            self.set_total_samples(total_samples)
        self.set_search_properties(metric, mode)
        if kwargs.get("experiment_path") is not None:
            self._experiment_path = str(kwargs["experiment_path"])
        if kwargs.get("param_space") is not None:
            self._searched = searched_keys(kwargs["param_space"])

    def print_line(self, text: str) -> None:
        self._write(text + "\n")

    def _out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def _write(self, text: str) -> None:
        out = self._out()
        out.write(text)
        out.flush()

    def _running_time(self) -> float:
        return max(0.0, self._clock() - self._start_time)


class CLIReporter(_StreamReporter):
    """Prints a status table of the trials to a terminal or a log file.

    In a terminal (``stream.isatty()``) the table is redrawn in place; elsewhere each report
    is printed below the previous one. The final report (``done=True``) stays on screen.

    Args:
        metric_columns: result keys to show, as a list or as ``{key: column title}``. None
            shows ``training_iteration``, ``time_total_s`` and up to ``infer_limit`` user
            metrics found in the results.
        parameter_columns: config keys to show (nested keys joined by ``/``), as a list or a
            dict. None shows every config key whose value differs between trials.
        total_samples: the number of trials the experiment will make, when known.
        max_progress_rows: the most trial rows in the table; RUNNING and ERROR trials first.
        max_error_rows: the most rows in the table of errored trials.
        max_column_length: longer titles and values are abbreviated with ``...``.
        max_report_frequency: seconds between reports. None: 0.5 s in a terminal, 5 s
            otherwise.
        infer_limit: the most user metrics shown when ``metric_columns`` is None.
        print_intermediate_tables: False prints the table only at the end; None means True.
        metric, mode: the metric to name the current best trial by, and ``"min"``/``"max"``.
        sort_by_metric: order the rows best first, and keep the best finished trials when
            rows must be left out.
        stream: where to print; None is ``sys.stdout`` at the time of printing.
        clock: seconds, for the report frequency and the running time.

    Example::

        reporter = CLIReporter(metric_columns={"loss": "loss"}, parameter_columns=["lr"])
        tune.run(train, config={"lr": tune.loguniform(1e-4, 1e-1)}, progress_reporter=reporter)
    """

    def __init__(
        self,
        metric_columns: Sequence[str] | Mapping[str, str] | None = None,
        parameter_columns: Sequence[str] | Mapping[str, str] | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float | None = None,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(total_samples, metric, mode, stream, clock)
        for name, value, low in (
            ("max_progress_rows", max_progress_rows, 1),
            ("max_error_rows", max_error_rows, 0),
            ("max_column_length", max_column_length, 4),
            ("infer_limit", infer_limit, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} is {value!r}, but must be an integer >= {low}")
        if max_report_frequency is not None and not max_report_frequency >= 0:
            raise ValueError(f"max_report_frequency is {max_report_frequency!r}, but must be >= 0")
        self._metric_columns = _as_columns(metric_columns, "metric_columns")
        self._parameter_columns = _as_columns(parameter_columns, "parameter_columns")
        self._added_metrics: dict[str, str] = {}
        self._added_parameters: dict[str, str] = {}
        self._max_progress_rows = max_progress_rows
        self._max_error_rows = max_error_rows
        self._max_column_length = max_column_length
        self._max_report_frequency = max_report_frequency
        self._infer_limit = infer_limit
        self._print_intermediate = print_intermediate_tables is not False
        self._sort_by_metric = sort_by_metric
        self._last_report_time: float | None = None
        self._live_frame: list[str] = []  # the redrawable table now on screen
        self._live_rows = 0  # terminal rows it takes
        self._held: list[str] = []  # lines waiting to go above the live table
        self._last_draw = -math.inf  # when the live table was last drawn (clock)
        self._log_frequency = LOG_REFRESH_S
        self._shown_parameters: dict[str, None] = {}  # once shown, a column stays

    def add_metric_column(self, metric: str, representation: str | None = None) -> None:
        """Show ``metric`` as a column titled ``representation`` (default: the key)."""
        self._add_column(metric, representation, self._metric_columns, self._added_metrics)

    def add_parameter_column(self, parameter: str, representation: str | None = None) -> None:
        """Show the config key ``parameter`` as a column titled ``representation``."""
        columns, added = self._parameter_columns, self._added_parameters
        self._add_column(parameter, representation, columns, added)

    def should_report(self, trials: Sequence[FrozenTrial], done: bool = False) -> bool:
        if done:
            return True
        if not self.due():
            return False
        self._last_report_time = self._clock()
        return True

    def due(self) -> bool:
        """Whether a periodic report is due now (:meth:`should_report` without its effect)."""
        if not self._print_intermediate:
            return False
        last = self._last_report_time
        return last is None or self._clock() - last >= self._frequency()

    def report(self, trials: Sequence[FrozenTrial], done: bool, *sys_info: str) -> None:
        lines = self.progress_lines(trials, sys_info)
        out = self._out()
        if not is_tty(out):
            self._write("\n".join(lines) + "\n\n")
            return
        erase, held = self._erase(), self._take_held()
        self._last_draw = self._clock()
        if done:
            self._live_frame, self._live_rows = [], 0
            self._write(erase + held + "\n".join(lines) + "\n")
            return
        columns, rows = terminal_size(out)
        self._live_frame = fit_rows(lines, columns, rows - 1)
        self._live_rows = count_rows(self._live_frame, columns)
        self._write(erase + held + "\n".join(self._live_frame) + "\n")

    def print_line(self, text: str) -> None:
        """Print ``text`` above the live table. The table is redrawn below it at most every
        ``LINE_REDRAW_S``: lines that come faster wait (see :meth:`flush_lines`)."""
        if not self._live_frame:
            self._write(text + "\n")
            return
        self._held.append(text)
        self.flush_lines()

    def flush_lines(self) -> None:
        """Print the lines waiting above the live table, unless it was drawn just now."""
        if not self._held or self._clock() - self._last_draw < LINE_REDRAW_S:
            return
        self._last_draw = self._clock()
        self._write(self._erase() + self._take_held() + "\n".join(self._live_frame) + "\n")
        self._live_rows = count_rows(self._live_frame, terminal_size(self._out())[0])

    def _take_held(self) -> str:
        held, self._held = self._held, []
        return "".join(line + "\n" for line in held)

    def status_lines(
        self, trials: Sequence[FrozenTrial], sys_info: Sequence[str] = ()
    ) -> list[str]:
        """Time, resources, the best trial so far, where results go and the trial counts."""
        lines = [
            f"Current time: {datetime.now():%Y-%m-%d %H:%M:%S}",
            f"Total running time: {format_duration(self._running_time())}",
            self.progress_line(trials),
            *sys_info,
        ]
        best = best_trial(trials, self._metric, self._mode)
        if best is not None:
            value = format_value(lookup(best.last_result, self._metric or ""))
            lines.append(
                f"Current best trial: {best.trial_id} with {self._metric}={value} "
                f"and params={best.config}"
            )
        if self._experiment_path:
            lines.append(f"Result logdir: {self._experiment_path}")
        lines.append(f"Number of trials: {count_line(trials, self._total_samples)}")
        return lines

    def progress_line(self, trials: Sequence[FrozenTrial]) -> str:
        """The progress bar: trials done of the total, elapsed time, ETA, best value so far."""
        done = sum(1 for t in trials if status_of(t).is_finished())
        best = best_trial(trials, self._metric, self._mode)
        best_text = None
        if best is not None:
            best_text = (
                f"{self._metric}={format_value(lookup(best.last_result, self._metric or ''))}"
            )
        total = self._total_samples
        known = total if total is not None and 0 < total < sys.maxsize else None
        return progress_bar(
            done, known, self._running_time(), best_text, ascii_only=self._ascii_only()
        )

    def progress_lines(
        self, trials: Sequence[FrozenTrial], sys_info: Sequence[str] = ()
    ) -> list[str]:
        """The lines of one report: status header, trial table and table of errors."""
        lines = ["== Status ==", *self.status_lines(trials, sys_info)]
        if trials:
            lines.extend(self._trial_table(trials))
        lines.extend(self._error_table(trials))
        return lines

    def _trial_table(self, trials: Sequence[FrozenTrial]) -> list[str]:
        shown, hidden = self._select_rows(trials)
        parameters = self._parameters(trials)
        metrics = self._metrics(trials)
        length = self._max_column_length
        headers = ["Trial name", "status", "loc"]
        headers += [abbreviate(title, length, keep="tail") for title in parameters.values()]
        headers += [abbreviate(title, length, keep="tail") for title in metrics.values()]
        raw_rows = []
        for trial in shown:
            config = flatten(trial.config)
            raw_rows.append(
                [
                    trial.trial_name,
                    str(trial.status),
                    trial.last_result.get("pid"),
                    *(config.get(key, lookup(trial.config, key)) for key in parameters),
                    *(lookup(trial.last_result, key) for key in metrics),
                ]
            )
        numeric = [False, False, False] + [
            all(row[i] is None or is_number(row[i]) for row in raw_rows)
            for i in range(3, len(headers))
        ]
        # Names, statuses and pids are never cut: they are how a trial is found again.
        rows = [
            [format_value(cell, None if i < 3 else length) for i, cell in enumerate(row)]
            for row in raw_rows
        ]
        lines = render_table(headers, rows, numeric, ascii_only=self._ascii_only())
        if hidden:
            lines.append(f"... {len(hidden)} more trials not shown ({status_counts(hidden)})")
        lines.extend(self._pending_note(trials))
        return lines

    def _pending_note(self, trials: Sequence[FrozenTrial]) -> list[str]:
        waiting = not_created(trials, self._total_samples)
        if not waiting:
            return []
        noun = "trial" if waiting == 1 else "trials"
        return [f"... {waiting} more {noun} PENDING (not sampled yet)"]

    def _error_table(self, trials: Sequence[FrozenTrial]) -> list[str]:
        errored = [t for t in trials if status_of(t) is TrialStatus.ERROR]
        if not errored:
            return []
        lines = [f"Number of errored trials: {len(errored)}"]
        if self._max_error_rows == 0:
            return lines
        shown = errored[: self._max_error_rows]
        rows = [[t.trial_name, str(t.num_failures), error_file(t)] for t in shown]
        headers = ["Trial name", "# failures", "error file"]
        lines += render_table(headers, rows, [False, True, False], self._ascii_only())
        if len(errored) > len(shown):
            lines.append(f"... {len(errored) - len(shown)} more errored trials not shown")
        return lines

    def _select_rows(
        self, trials: Sequence[FrozenTrial]
    ) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        """The rows to show, and those left out when there are more than the limit."""
        sort = self._sort_by_metric and self._metric is not None and self._mode is not None

        def rank(index: int) -> tuple[Any, ...]:
            trial = trials[index]
            by_metric = self._metric_key(trial) if sort else (0, 0.0)
            return (_ROW_PRIORITY[status_of(trial)], by_metric, index)

        ranked = sorted(range(len(trials)), key=rank)
        keep = set(ranked[: self._max_progress_rows])
        if sort:
            order = sorted(keep, key=lambda i: (self._metric_key(trials[i]), i))
        else:
            order = sorted(keep)
        shown = [trials[i] for i in order]
        hidden = [trials[i] for i in range(len(trials)) if i not in keep]
        return shown, hidden

    def _metric_key(self, trial: FrozenTrial) -> tuple[int, float]:
        """Sorts best first; trials without a value for the metric last."""
        value = metric_value(trial, self._metric)
        if value is None:
            return (1, 0.0)
        return (0, -value if self._mode == "max" else value)

    def _parameters(self, trials: Sequence[FrozenTrial]) -> dict[str, str]:
        if self._parameter_columns is not None:
            columns = dict(self._parameter_columns)
        else:
            found = parameter_keys(trials, self._searched)
            if len(trials) < 2 and not self._searched:  # one trial: no sign yet of what varies
                keys = found
            else:
                for key in found:
                    self._shown_parameters.setdefault(key, None)
                keys = list(self._shown_parameters)
            titles = column_titles(keys, self._max_column_length)
            columns = dict(zip(keys, titles))
        return {**columns, **{k: v for k, v in self._added_parameters.items() if k not in columns}}

    def _metrics(self, trials: Sequence[FrozenTrial]) -> dict[str, str]:
        if self._metric_columns is not None:
            candidates = dict(self._metric_columns)
        else:
            candidates = dict(DEFAULT_METRIC_COLUMNS)
            if self._metric is not None:
                candidates.setdefault(self._metric, self._metric)
            inferred = 0
            for trial in trials:
                for key, value in flatten(trial.last_result).items():
                    if inferred >= self._infer_limit:
                        break
                    if key in candidates or key.split("/")[0] in AUTO_RESULT_KEYS:
                        continue
                    if is_number(value):
                        candidates[key] = key
                        inferred += 1
        for key, title in self._added_metrics.items():
            candidates.setdefault(key, title)
        # Like Ray, leave out the metric columns that no trial has reported yet.
        return {
            key: title
            for key, title in candidates.items()
            if any(lookup(t.last_result, key) is not None for t in trials)
        }

    def _frequency(self) -> float:
        if self._max_report_frequency is not None:
            return self._max_report_frequency
        return LIVE_REFRESH_S if is_tty(self._out()) else self._log_frequency

    def _erase(self) -> str:
        return _ERASE.format(n=self._live_rows) if self._live_rows else ""

    def _ascii_only(self) -> bool:
        return not can_draw_boxes(getattr(self._out(), "encoding", None))

    @staticmethod
    def _add_column(
        key: str, title: str | None, given: dict[str, str] | None, added: dict[str, str]
    ) -> None:
        if key in added or (given is not None and key in given):
            raise ValueError(f"column {key!r} is already shown")
        if given is not None:
            given[key] = title or key
        else:
            added[key] = title or key


class _SummaryReporter(_StreamReporter):
    """Verbose 1: nothing while the experiment runs, :func:`final_summary` at its end."""

    def should_report(self, trials: Sequence[FrozenTrial], done: bool = False) -> bool:
        return done

    def report(self, trials: Sequence[FrozenTrial], done: bool, *sys_info: str) -> None:
        if done:
            summary = final_summary(
                trials,
                self._metric,
                self._mode,
                experiment_path=self._experiment_path,
                total_time_s=self._running_time(),
            )
            self._write(summary + "\n")


def _as_columns(
    value: Sequence[str] | Mapping[str, str] | None, name: str
) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {str(k): str(k) for k in value}
    raise TypeError(f"{name} is {value!r}, but must be a list of keys or a dict {{key: title}}")
