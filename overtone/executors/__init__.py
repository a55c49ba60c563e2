"""Where trials run: the executor interface, local worker processes, and Dask clusters.

The executors are imported on first use: ``DaskExecutor`` so that ``distributed`` is only
needed by those who use it, and all of them so that a Dask worker, which imports this package
for the trial side of the Dask executor, does not import the local ones too.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from overtone._lazy import lazy_exports
from overtone.executors._base import DoneEvent, ErrorEvent, Event, Executor, ResultEvent

if TYPE_CHECKING:
    from overtone.executors._dask import DaskExecutor
    from overtone.executors._local import LocalExecutor
    from overtone.executors._simulated import CurveTable, SimulatedClock, SimulatedExecutor

_LAZY = {
    "DaskExecutor": "overtone.executors._dask",
    "LocalExecutor": "overtone.executors._local",
    "CurveTable": "overtone.executors._simulated",
    "SimulatedClock": "overtone.executors._simulated",
    "SimulatedExecutor": "overtone.executors._simulated",
}

__all__ = [
    "DaskExecutor",
    "DoneEvent",
    "ErrorEvent",
    "Event",
    "Executor",
    "LocalExecutor",
    "ResultEvent",
    "CurveTable",
    "SimulatedClock",
    "SimulatedExecutor",
    "make_executor",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


def make_executor(value: Any) -> Executor:
    """Turn the ``executor`` setting into an executor.

    Accepted: None or ``"local"`` (worker processes on this machine), an ``Executor``,
    ``"dask://host:port"`` (a Dask scheduler; the port defaults to 8786), a
    ``distributed.Client``, or a Dask cluster object (``LocalCluster``, ``KubeCluster``,
    ``SLURMCluster`` ...).
    """
    if value is None or (isinstance(value, str) and value == "local"):
        from overtone.executors._local import LocalExecutor

        return LocalExecutor()
    if isinstance(value, Executor):
        return value
    if isinstance(value, str):
        if value.startswith("dask://"):
            from overtone.executors._dask import DEFAULT_PORT, DaskExecutor

            hostport = value.removeprefix("dask://").rstrip("/")
            if not hostport:
                raise ValueError(f"executor is {value!r}, but must name a host: dask://host:port")
            if not hostport.rpartition(":")[2].isdigit() or hostport.endswith("]"):
                hostport = f"{hostport}:{DEFAULT_PORT}"
            return DaskExecutor(f"tcp://{hostport}")
        raise ValueError(
            f"executor is {value!r}, but a string must be 'local' or 'dask://host:port'"
        )
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        from overtone.executors._dask import DaskExecutor

        if isinstance(value, distributed.Client):
            return DaskExecutor(client=value)
        if isinstance(value, distributed.deploy.Cluster):
            return DaskExecutor(value)
    raise TypeError(
        f"executor is {value!r}, but must be an overtone Executor, 'local', "
        "'dask://host:port', a distributed.Client or a Dask cluster"
    )
