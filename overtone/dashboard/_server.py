"""Running the dashboard: a uvicorn server in a thread, its URL, its token."""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from typing import Any
from urllib.parse import quote

from overtone._checks import is_loopback
from overtone.cli._store import Store
from overtone.storage._layout import STATE_FILE

EXTRA_HINT = "pip install 'overtone[dashboard]'"


def split_path(path: str) -> tuple[str, str | None]:
    """(storage root, experiment name or None): a local experiment folder opens that one."""
    if "://" not in path or path.startswith("file://"):
        local = os.path.abspath(os.path.expanduser(path.removeprefix("file://")))
        if os.path.isfile(os.path.join(local, STATE_FILE)):
            return os.path.dirname(local), os.path.basename(local)
        return local, None
    return path, None


class DashboardServer:
    """A dashboard served from a background thread until :meth:`stop`.

    Args:
        path: a storage root (folder or fsspec URI), or one experiment's folder.
        host: the interface; anything but loopback requires a token.
        port: the port (0: a free one).
        token: the token every request must carry (generated if the host is not loopback).
        refresh_s: how often running experiments are re-read, at most.
        filesystem: an fsspec filesystem for a URI ``path``.
    """

    def __init__(
        self,
        path: str,
        host: str = "127.0.0.1",
        port: int = 8265,
        token: str | None = None,
        refresh_s: float = 1.0,
        filesystem: Any = None,
    ) -> None:
        try:
            import uvicorn

            from overtone.dashboard._app import create_app, plotly_js
        except ImportError as exc:
            raise ImportError(
                f"the dashboard needs starlette, uvicorn and plotly: {EXTRA_HINT} ({exc})"
            ) from exc
        plotly_js()
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port is {port!r}, but must be an integer from 0 to 65535")
        if refresh_s <= 0:
            raise ValueError(f"refresh_s is {refresh_s!r}, but must be > 0")
        loopback = is_loopback(host)
        if not loopback and not token:
            token = secrets.token_urlsafe(24)
        self.token = token
        self.host = host
        root, self.experiment = split_path(path)
        self.store = Store(root, filesystem)
        app = create_app(self.store, token=token, loopback=loopback, refresh_s=refresh_s)
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.port = port

    def start(self, daemon: bool = True, timeout: float = 30.0) -> DashboardServer:
        """Start serving; returns once the socket listens."""
        self._thread = threading.Thread(
            target=self._server.run, name="overtone-dashboard", daemon=daemon
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise OSError(f"the dashboard could not listen on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the dashboard did not start within {timeout} s")
            time.sleep(0.02)
        for server in self._server.servers:
            for sock in server.sockets:
                self.port = sock.getsockname()[1]
                break
        return self

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
        url = f"http://{host}:{self.port}/"
        if self.token:
            url += f"?token={quote(self.token)}"
        if self.experiment:
            url += f"#/exp/{quote(self.experiment)}"
        return url

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def run_dashboard(
    path: str,
    host: str = "127.0.0.1",
    port: int = 8265,
    token: str | None = None,
    refresh_s: float = 1.0,
) -> int:
    """``overtone dashboard``: serve until Ctrl-C; print the URL first."""
    server = DashboardServer(path, host=host, port=port, token=token, refresh_s=refresh_s)
    server.start(daemon=True)
    print(f"Overtone dashboard of {server.store.display()} at {server.url}", flush=True)
    if server.token and not token:
        print(f"Its token (needed by every request): {server.token}", flush=True)
    print("Press Ctrl-C to stop.", file=sys.stderr, flush=True)
    server.wait()
    return 0
