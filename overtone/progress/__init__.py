"""Progress output (``overtone.tune.CLIReporter``, ``ProgressReporter``) and verbosity levels.

The names are imported when first used: an experiment run with ``verbose=0`` never imports
the reporters and tables.
"""

from __future__ import annotations

from overtone._lazy import lazy_exports

_LAZY = {
    "CLIReporter": "overtone.progress._reporter",
    "JupyterNotebookReporter": "overtone.progress._notebook",
    "ProgressReporter": "overtone.progress._reporter",
    "TrialProgressPrinter": "overtone.progress._output",
    "final_summary": "overtone.progress._table",
    "format_trial_end_line": "overtone.progress._table",
    "format_trial_result_line": "overtone.progress._table",
    "make_reporter": "overtone.progress._output",
}

__all__ = [
    "CLIReporter",
    "JupyterNotebookReporter",
    "ProgressReporter",
    "TrialProgressPrinter",
    "final_summary",
    "format_trial_end_line",
    "format_trial_result_line",
    "make_reporter",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
