"""Progress output (``overtone.tune.CLIReporter``, ``ProgressReporter``) and verbosity levels."""

from overtone.progress._notebook import JupyterNotebookReporter
from overtone.progress._output import TrialProgressPrinter, make_reporter
from overtone.progress._reporter import CLIReporter, ProgressReporter
from overtone.progress._table import (
    final_summary,
    format_trial_end_line,
    format_trial_result_line,
)

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
