"""Progress in a Jupyter notebook: an HTML status table, updated in place."""

from __future__ import annotations

import html
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from overtone._dicts import flatten, lookup
from overtone._trial import FrozenTrial, TrialStatus
from overtone.progress._reporter import CLIReporter
from overtone.progress._table import (
    error_file,
    format_value,
    is_number,
    known_total,
    status_counts,
    status_of,
)

_STYLE = (
    "<style>.overtone-status td, .overtone-status th {text-align: left; padding: 2px 8px}"
    ".overtone-status td.num {text-align: right}</style>"
)


def in_notebook() -> bool:
    """Whether this process runs in a Jupyter kernel (where HTML output is shown)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class JupyterNotebookReporter(CLIReporter):
    """Shows the status table as HTML in a notebook cell, replaced in place at each report.

    It takes the arguments of :class:`CLIReporter` (it picks columns and rows the same way)
    and reports at most every ``max_report_frequency`` seconds (5 by default).

    Args:
        overwrite: update the one table in place (through ``IPython.display`` and a display
            id); False adds a new table below the previous one at each report.

    Example::

        reporter = JupyterNotebookReporter(metric_columns=["loss"], max_progress_rows=10)
        tune.run(train, config=space, progress_reporter=reporter)
    """

    def __init__(
        self,
        overwrite: bool = True,
        metric_columns: Sequence[str] | Mapping[str, str] | None = None,
        parameter_columns: Sequence[str] | Mapping[str, str] | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float = 5,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
    ) -> None:
        super().__init__(
            metric_columns=metric_columns,
            parameter_columns=parameter_columns,
            total_samples=total_samples,
            max_progress_rows=max_progress_rows,
            max_error_rows=max_error_rows,
            max_column_length=max_column_length,
            max_report_frequency=max_report_frequency,
            infer_limit=infer_limit,
            print_intermediate_tables=print_intermediate_tables,
            metric=metric,
            mode=mode,
            sort_by_metric=sort_by_metric,
        )
        self._overwrite = overwrite
        self._handle: Any = None

    def report(self, trials: Sequence[FrozenTrial], done: bool, *sys_info: str) -> None:
        try:
            from IPython.display import HTML, display
        except ImportError as exc:
            raise ImportError(
                "JupyterNotebookReporter needs IPython: pip install 'overtone[notebook]'"
            ) from exc

        content = HTML(self.progress_html(trials, sys_info))  # type: ignore[no-untyped-call]
        if self._overwrite and self._handle is not None:
            self._handle.update(content)
        else:
            self._handle = display(content, display_id=True)  # type: ignore[no-untyped-call]

    def print_line(self, text: str) -> None:
        print(text, flush=True)

    def progress_html(self, trials: Sequence[FrozenTrial], sys_info: Sequence[str] = ()) -> str:
        """The HTML of one report: status lines, the trial table and the table of errors."""
        lines = self.status_lines(trials, sys_info)
        bar = self.progress_line(trials)
        parts = [_STYLE, '<div class="overtone-status"><h3>Status</h3>']
        parts += [
            self._progress_html(trials, bar) if line == bar else f"<p>{html.escape(line)}</p>"
            for line in lines
        ]
        if trials:
            parts.append(self._trial_table_html(trials))
        parts.append(self._error_table_html(trials))
        parts.append("</div>")
        return "".join(parts)

    def _progress_html(self, trials: Sequence[FrozenTrial], bar: str) -> str:
        """A ``<progress>`` bar of the trials done, with the bar line's words beside it."""
        done = sum(1 for t in trials if status_of(t).is_finished())
        total = known_total(self._total_samples)
        words = bar.split("] ", 1)[1] if bar.startswith("[") else bar
        meter = f'<progress value="{done}" max="{total}"></progress> ' if total is not None else ""
        return f'<p class="overtone-progress">{meter}{html.escape(words)}</p>'

    def _trial_table_html(self, trials: Sequence[FrozenTrial]) -> str:
        shown, hidden = self._select_rows(trials)
        parameters = self._parameters(trials)
        metrics = self._metrics(trials)
        headers = ["Trial name", "status", "loc", *parameters.values(), *metrics.values()]
        rows = []
        for trial in shown:
            config = flatten(trial.config)
            rows.append(
                [
                    trial.trial_name,
                    str(trial.status),
                    trial.last_result.get("pid"),
                    *(config.get(key, lookup(trial.config, key)) for key in parameters),
                    *(lookup(trial.last_result, key) for key in metrics),
                ]
            )
        table = _html_table(headers, rows, self._max_column_length)
        if hidden:
            note = f"... {len(hidden)} more trials not shown ({status_counts(hidden)})"
            table += f"<p>{html.escape(note)}</p>"
        for note in self._pending_note(trials):
            table += f"<p>{html.escape(note)}</p>"
        return table

    def _error_table_html(self, trials: Sequence[FrozenTrial]) -> str:
        errored = [t for t in trials if status_of(t) is TrialStatus.ERROR]
        if not errored:
            return ""
        out = f"<p>Number of errored trials: {len(errored)}</p>"
        shown = errored[: self._max_error_rows]
        if shown:
            rows = [[t.trial_name, t.num_failures, error_file(t)] for t in shown]
            out += _html_table(["Trial name", "# failures", "error file"], rows, None)
        if len(errored) > len(shown):
            out += f"<p>... {len(errored) - len(shown)} more errored trials not shown</p>"
        return out


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], length: int | None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            # names, statuses and paths are never cut: they are how a trial is found again
            text = html.escape(format_value(cell, None if i < 3 else length))
            cells.append(f'<td class="num">{text}</td>' if is_number(cell) else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
