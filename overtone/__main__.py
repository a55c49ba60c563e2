"""``python -m overtone``: the ``overtone`` command line."""

from __future__ import annotations

import sys

from overtone.cli import main

if __name__ == "__main__":
    sys.exit(main())
