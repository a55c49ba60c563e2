"""What the framework callbacks share: the import guard, metric selection and checkpoints."""

from __future__ import annotations

import contextlib
import importlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

from overtone.checkpoint import Checkpoint
from overtone.runtime import report

MetricSpec = str | list[str] | dict[str, str] | None


def require(module: str, extra: str, package: str | None = None) -> ModuleType:
    """Import ``module``, or fail with the pip extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        name = getattr(error, "name", None)
        if name and name.split(".")[0] != module.split(".")[0]:
            # The framework is there but one of its own dependencies is not (e.g. Keras
            # without its backend): say that rather than "not installed".
            raise ImportError(
                f"{package or module} could not be imported ({error}); "
                f"pip install 'overtone[{extra}]' installs what this integration is tested with"
            ) from error
        raise ImportError(
            f"{package or module} is not installed, but this integration needs it: "
            f"pip install 'overtone[{extra}]'"
        ) from error


def normalize_metrics(metrics: MetricSpec) -> dict[str, str] | None:
    """``metrics`` as {name to report: name the framework uses}; None means all of them."""
    if metrics is None:
        return None
    if isinstance(metrics, str):
        return {metrics: metrics}
    if isinstance(metrics, Mapping):
        bad = [k for k, v in metrics.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise ValueError(f"metrics is {metrics!r}, but its keys and values must be strings")
        return dict(metrics)
    if isinstance(metrics, (list, tuple)):
        if not all(isinstance(m, str) for m in metrics):
            raise ValueError(f"metrics is {metrics!r}, but must be a list of metric names")
        return {m: m for m in metrics}
    raise ValueError(
        f"metrics is {metrics!r}, but must be None, a metric name, a list of names or a dict "
        "of {reported name: framework metric name}"
    )


def select(
    available: Mapping[str, Any], wanted: dict[str, str] | None, where: str
) -> dict[str, Any]:
    """Pick and rename the metrics to report; a name the framework lacks is an error."""
    if wanted is None:
        return dict(available)
    missing = [source for source in wanted.values() if source not in available]
    if missing:
        raise ValueError(
            f"metric {missing[0]!r} is not among the metrics {where} reported "
            f"({sorted(available)}), but metrics= names it"
        )
    return {name: available[source] for name, source in wanted.items()}


def check_frequency(frequency: Any) -> int:
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 0:
        raise ValueError(f"frequency is {frequency!r}, but must be an int >= 0 (0: never)")
    return frequency


def postprocess(
    metrics: dict[str, Any], fn: Callable[[dict[str, Any]], dict[str, Any]] | None
) -> dict[str, Any]:
    if fn is None:
        return metrics
    out = fn(metrics)
    if not isinstance(out, dict):
        raise TypeError(f"results_postprocessing_fn returned {out!r}, but must return a dict")
    return out


@contextlib.contextmanager
def checkpoint_from(save: Callable[[str], None]) -> Iterator[Checkpoint]:
    """A checkpoint in a temporary folder that ``save(folder)`` fills; removed afterwards."""
    folder = tempfile.mkdtemp(prefix="overtone-ckpt-")
    try:
        save(folder)
        yield Checkpoint.from_directory(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report_with_checkpoint(metrics: dict[str, Any], save: Callable[[str], None] | None) -> None:
    """``tune.report(metrics)``, with a checkpoint that ``save(folder)`` writes when given."""
    if save is None:
        report(metrics)
        return
    with checkpoint_from(save) as checkpoint:
        report(metrics, checkpoint=checkpoint)
