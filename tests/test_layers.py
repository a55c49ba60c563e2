"""The layers of ``shared/DESIGN.md`` hold: every import runs down, never up.

Each part of the package (a subpackage, or a top-level module) may import only the parts this
table allows; lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "overtone"

LEAVES = {
    "overtone",
    "_trial",
    "_errors",
    "_dicts",
    "_checks",
    "_lazy",
    "checkpoint",
    "_pareto",
}
PLUGIN_BASE = LEAVES | {"config", "space"}
CONTROLLER = {
    "_controller",
    "_decisions",
    "_queue",
    "_experiment",
    "_trial_state",
    "_trial_table",
    "_state",
    "_checkpoints",
    "_trial_factory",
    "_run",
    "_run_args",
    "_tuner",
    "_classic",
    "_study_change",
    "_replay",
    "_teardown",
}
BELOW_CONTROLLER = PLUGIN_BASE | {"storage", "runtime", "executors", "analysis", "search"}
BELOW_CONTROLLER |= {"schedulers", "stopper", "callbacks", "logger", "progress"}

ALLOWED: dict[str, set[str]] = {
    **{leaf: set() for leaf in LEAVES},
    "_pareto": {"_checks", "_dicts"},  # Pareto fronts: analysis and schedulers share them
    "config": {"_checks"},
    "space": set(),  # the search space depends on nothing
    "storage": LEAVES,  # the bottom layer
    "runtime": LEAVES | {"storage"},
    "executors": LEAVES | {"runtime", "storage"},  # workers make trial folders
    "analysis": LEAVES | {"storage"},
    # decision plugins: never the executors, the controller or the storage (but its names:
    # PBT predicts a checkpoint's folder name with storage._layout)
    "search": PLUGIN_BASE,
    "schedulers": PLUGIN_BASE | {"storage"},
    "stopper": PLUGIN_BASE,
    "callbacks": PLUGIN_BASE,
    "progress": PLUGIN_BASE | {"callbacks", "storage"},  # storage: the error file's name
    # loggers write trial files with storage's writers; setup_mlflow/setup_wandb run in a trial
    "logger": PLUGIN_BASE | {"callbacks", "storage", "runtime"},
    **{module: BELOW_CONTROLLER | CONTROLLER for module in CONTROLLER},
    "integrations": PLUGIN_BASE | {"logger", "runtime"},
    "tune": BELOW_CONTROLLER | CONTROLLER | {"train"},
    # the rooms above the loop: they read experiments through analysis and storage
    "cli": BELOW_CONTROLLER | {"dashboard", "serve"},
    "dashboard": BELOW_CONTROLLER | {"cli"},
    "serve": BELOW_CONTROLLER | {"cli"},
    "__main__": {"cli"},
    "train": BELOW_CONTROLLER | CONTROLLER | {"tune"},
}
# RunConfig(dashboard=True): the run starts the dashboard's callback, imported only when asked.
ALLOWED["_run"] = ALLOWED["_run"] | {"dashboard"}


def _part(module: str) -> str:
    parts = [p for p in module.split(".") if p != "__init__"]
    return parts[1] if len(parts) > 1 else "overtone"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)


def _imports() -> dict[str, set[tuple[str, str]]]:
    """part -> {(imported part, "file:line")}."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in ROOT.rglob("*.py"):
        source = _part(_module(path))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] != "overtone":
                    continue
                target = _part(name)
                if target != source:
                    where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
                    found.setdefault(source, set()).add((target, where))
    return found


def test_every_part_of_the_package_is_placed_in_a_layer():
    parts = {_part(_module(path)) for path in ROOT.rglob("*.py")}
    assert parts <= set(ALLOWED), parts - set(ALLOWED)


def test_imports_run_down_the_layers():
    upward = [
        f"{where}: {source} imports {target}"
        for source, edges in _imports().items()
        for target, where in sorted(edges)
        if target not in ALLOWED[source]
    ]
    assert upward == []
