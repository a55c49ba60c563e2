"""``RunConfig(dashboard=True)``: a callback that serves the dashboard while the run lasts."""

from __future__ import annotations

import os
import sys
from typing import Any

from overtone.callbacks import Callback


class DashboardCallback(Callback):
    """Starts the dashboard of an experiment when it starts and stops it when it ends.

    Args:
        experiment_path: the experiment's local folder (the staging folder of a remote one).
        host, port, token: as for ``overtone dashboard`` (``port=0``: any free port).
        keep_running: leave the dashboard serving after the run ends; it then stops when the
            Python process exits (it runs in a non-daemon thread: the script waits for Ctrl-C).
        stream: where the URL is printed (default: ``sys.stdout``).
    """

    def __init__(
        self,
        experiment_path: str,
        host: str = "127.0.0.1",
        port: int = 8265,
        token: str | None = None,
        keep_running: bool = False,
        stream: Any = None,
    ) -> None:
        self.experiment_path = os.path.abspath(os.path.expanduser(experiment_path))
        self.host = host
        self.port = port
        self.token = token
        self.keep_running = keep_running
        self.stream = stream
        self.server: Any = None

    def setup(self, stop: Any = None, num_samples: int | None = None, **info: Any) -> None:
        from overtone.dashboard._server import DashboardServer

        if self.server is not None:
            return
        os.makedirs(self.experiment_path, exist_ok=True)
        server = DashboardServer(
            os.path.dirname(self.experiment_path),
            host=self.host,
            port=self.port,
            token=self.token,
        )
        server.experiment = os.path.basename(self.experiment_path)
        server.start(daemon=not self.keep_running)
        self.server = server
        print(f"Overtone dashboard: {server.url}", file=self.stream or sys.stdout, flush=True)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        if self.server is None:
            return
        if self.keep_running:
            print(
                f"The experiment ended; the dashboard stays at {self.server.url} until this "
                "process exits (Ctrl-C).",
                file=self.stream or sys.stdout,
                flush=True,
            )
            return
        self.server.stop()
        self.server = None


def with_dashboard(run_config: Any, experiment_path: str) -> list[Any]:
    """The run's callbacks, with a :class:`DashboardCallback` last if ``run_config.dashboard``
    asks for one."""
    callbacks = list(run_config.callbacks or [])
    setting = getattr(run_config, "dashboard", False)
    if not setting:
        return callbacks
    if setting is True:
        from overtone.config import DashboardConfig

        setting = DashboardConfig()
    return [
        *callbacks,
        DashboardCallback(
            experiment_path,
            host=setting.host,
            port=setting.port,
            token=setting.token,
            keep_running=setting.keep_running,
        ),
    ]
