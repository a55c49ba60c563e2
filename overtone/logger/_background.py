"""A background thread for loggers that talk to a server: the controller never waits on them."""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("overtone.logger")

_STOP = object()


class BackgroundWorker:
    """Runs ``handle(items)`` on a daemon thread, in submission order.

    ``handle`` receives every item queued at that moment (at most ``max_batch``), so a
    logger can send many results in one request. An exception in ``handle`` is reported
    once per ``name`` with its traceback, and the worker goes on with the next items.
    """

    def __init__(
        self, name: str, handle: Callable[[list[Any]], None], max_batch: int = 256
    ) -> None:
        self.name = name
        self._handle = handle
        self._max_batch = max_batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures = 0

    def submit(self, item: Any) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name=f"overtone-{self.name}", daemon=True
                    )
                    self._thread.start()
        self._queue.put(item)

    def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until every submitted item is handled; False if ``timeout_s`` ran out."""
        if self._thread is None:
            return True
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    logger.warning(
                        "%s: %d logging requests were still pending after %.0f s; "
                        "they are dropped",
                        self.name,
                        self._queue.unfinished_tasks,
                        timeout_s,
                    )
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def stop(self, timeout_s: float | None = None) -> bool:
        """Drain, then end the thread. A later :meth:`submit` starts a new one."""
        done = self.drain(timeout_s)
        thread = self._thread
        if thread is not None and done:
            self._queue.put(_STOP)
            thread.join(timeout=5)
            self._thread = None
        return done

    def report_failure(self) -> None:
        """Count the exception being handled; show the first one with its traceback."""
        self.failures += 1
        if self.failures == 1:
            logger.error(
                "%s failed to log; the experiment goes on, and further failures are "
                "counted but not shown:\n%s",
                self.name,
                traceback.format_exc().rstrip(),
            )

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self._max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in items)
            work = [item for item in items if item is not _STOP]
            try:
                if work:
                    self._handle(work)
            except Exception:  # noqa: BLE001 - a logging failure must not end the thread
                self.report_failure()
            finally:
                for _ in items:
                    self._queue.task_done()
            if stop:
                return
