"""``overtone.serve`` exports exactly its public names and imports its web stack lazily."""

from __future__ import annotations

import subprocess
import sys

from overtone import serve


def test_all_is_exactly_the_public_api():
    assert set(serve.__all__) == {
        "Predictor",
        "ServeError",
        "ServeHandle",
        "SklearnPredictor",
        "run",
    }
    for name in serve.__all__:
        assert getattr(serve, name) is not None


def test_importing_serve_leaves_the_web_stack_and_frameworks_alone():
    code = (
        "import sys; from overtone import serve; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'sklearn', 'pandas') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
