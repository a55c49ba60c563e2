"""``overtone.tune.progress_reporter``: the reporters, as ``ray.tune.progress_reporter``."""

from overtone.progress import CLIReporter, JupyterNotebookReporter, ProgressReporter

__all__ = ["CLIReporter", "JupyterNotebookReporter", "ProgressReporter"]
