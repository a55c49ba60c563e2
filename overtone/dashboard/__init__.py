"""A live web dashboard of experiments (``overtone dashboard``, ``RunConfig(dashboard=True)``).

It reads experiments through the same read-only store as the command line, so it shows
finished, running and remote experiments alike; it never writes. Starlette and uvicorn serve
it, plotly.js from the installed ``plotly`` package draws the plots (no CDN). Install with
``pip install 'overtone[dashboard]'``.

Example::

    from overtone.dashboard import DashboardServer

    server = DashboardServer("~/overtone_results", port=0).start()
    print(server.url)
    ...
    server.stop()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from overtone.dashboard._callback import DashboardCallback
    from overtone.dashboard._server import DashboardServer

__all__ = ["DashboardCallback", "DashboardServer", "run_dashboard"]


def __getattr__(name: str) -> Any:  # starlette and uvicorn only when a server is made
    if name == "DashboardServer":
        from overtone.dashboard import _server

        return getattr(_server, name)
    if name == "DashboardCallback":
        from overtone.dashboard._callback import DashboardCallback

        return DashboardCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_dashboard(*args: Any, **kwargs: Any) -> int:
    """Serve the dashboard of a storage path until Ctrl-C (``overtone dashboard``)."""
    from overtone.dashboard._server import run_dashboard as run

    return run(*args, **kwargs)
