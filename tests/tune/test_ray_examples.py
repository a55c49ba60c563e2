"""Scripts written for Ray Tune 2.x run after switching the import lines (issue 12).

The scripts in ``tests/data/ray_examples`` import ``ray``; each is switched mechanically, as
a user would, and run in its own process with ``--smoke-test``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "data", "ray_examples")
SCRIPTS = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))


def switch_imports(source: str) -> str:
    """What a user changes: the import lines, and no ``ray.init()``."""
    source = re.sub(r"^import ray\n", "", source, flags=re.M)
    source = re.sub(r"^(\s*)ray\.init\(.*\)\n", r"\1pass\n", source, flags=re.M)
    source = source.replace("from ray import", "from overtone import")
    source = source.replace("ray.tune", "overtone.tune").replace("ray.train", "overtone.train")
    return source


def test_the_switch_leaves_no_ray():
    for name in SCRIPTS:
        with open(os.path.join(EXAMPLES, name)) as f:
            switched = switch_imports(f.read())
        assert not re.search(r"\bray\b", switched.replace("overtone", "")), name


@pytest.mark.parametrize("name", SCRIPTS)
def test_ray_example_runs_on_overtone(tmp_path, name):
    with open(os.path.join(EXAMPLES, name)) as f:
        script = tmp_path / name
        script.write_text(switch_imports(f.read()))
    env = {**os.environ, "OVERTONE_STORAGE_PATH": str(tmp_path / "results")}
    out = subprocess.run(
        [sys.executable, str(script), "--smoke-test"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Best hyperparameters found were:" in out.stdout
