"""``ServeHandle``: what ``serve.run`` returns: the URL, an in-process client, ``stop()``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import threading
from typing import TYPE_CHECKING, Any

from overtone._errors import TuneError
from overtone.serve._router import RequestError, Router

if TYPE_CHECKING:
    from overtone.serve._supervisor import Supervisor


class ServeError(TuneError):
    """The service could not start: no replica loaded the predictor, or none started."""


class ServeHandle:
    """A running service: its URL, an in-process client, and ``stop()``.

    Attributes:
        url: ``http://host:port`` (with port 0 asked, the port given by the system).
        name: the model's name in the routes (``/v1/models/<name>:predict``).
        token: the token every request must carry (None on loopback without one).
    """

    def __init__(self) -> None:
        self.url = ""
        self.name = ""
        self.token: str | None = None
        self.host = ""
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._server: Any = None
        self._router: Router | None = None
        self._supervisor: Supervisor | None = None
        self._work_dir: str | None = None
        self._remove_work_dir = False
        self._stopped = False
        self._lock = threading.Lock()
        self._follow = False
        self._http_done = threading.Event()
        self._closing: asyncio.Event

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/{self.name}:predict"

    @property
    def serving(self) -> dict[str, Any]:
        """The trial, config, metrics and checkpoint served now, and their generation."""
        if self._supervisor is None:
            raise RuntimeError("the service has not started")
        selection, generation = self._supervisor.snapshot()
        return {"name": self.name, "generation": generation, **selection.describe()}

    @property
    def replicas(self) -> list[dict[str, Any]]:
        """The replicas now: id, generation, state, pid, host and whether it holds a batch."""
        if self._stopped or self._loop is None or self._router is None:
            return []

        async def read() -> list[dict[str, Any]]:
            assert self._router is not None
            return self._router.describe()

        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(10.0)

    def predict(self, instances: list[Any], timeout: float | None = None) -> list[Any]:
        """Predictions for ``instances``, through the same batches as HTTP requests.

        Raises:
            RuntimeError: with the message an HTTP client would get, if the request fails.
        """
        if self._stopped or self._loop is None or self._router is None:
            raise RuntimeError("the service is stopped")
        if not isinstance(instances, list):
            raise TypeError(f"instances is {type(instances).__name__}, but must be a list")
        router = self._router
        if len(instances) > router.max_batch_size:
            raise ValueError(
                f"instances has {len(instances)} items, but a request may hold at most "
                f"{router.max_batch_size} (max_batch_size)"
            )
        if not instances:
            return []
        future = asyncio.run_coroutine_threadsafe(router.predict(instances), self._loop)
        try:
            body = future.result(timeout)
        except RequestError as exc:
            raise RuntimeError(f"prediction failed ({exc.status}): {exc.message}") from None
        return list(json.loads(body))

    def stop(self) -> None:
        """Stop serving: answer what is in flight, then end the replicas and the server."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        loop = self._loop
        # First the HTTP server (it answers what is in flight), then the replicas (each
        # finishes its batch), then the router and the event loop.
        if self._server is not None:
            self._server.should_exit = True
            self._http_done.wait(15.0)
        if self._supervisor is not None:
            self._supervisor.stop(30.0)
        if loop is not None and self._loop_thread is not None:
            closing = getattr(self, "_closing", None)
            if closing is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(closing.set)
            self._loop_thread.join(15.0)
            if not self._loop_thread.is_alive():
                loop.close()
        if self._remove_work_dir and self._work_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def __enter__(self) -> ServeHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServeHandle(url={self.url!r}, name={self.name!r})"
