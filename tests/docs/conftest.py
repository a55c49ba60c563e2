"""Print how many documentation blocks ran and which were skipped, and why."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    # The test module is imported under a name pytest chooses: find it by its file.
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", "") and module.__file__.endswith("test_doc_blocks.py"):
            lines = module.summary()
            if lines:
                terminalreporter.section("documentation code blocks")
                for line in lines:
                    terminalreporter.write_line(line)
            return
