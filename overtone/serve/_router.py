"""The front's asyncio side: dynamic batching and the connections to the replicas.

Requests wait in one queue. A batch leaves when a replica is free and the batch is full
(``max_batch_size`` instances), or its oldest request waited ``batch_wait_timeout_s``, or no
request came for a short quiet gap: twice the recent gap between requests that arrived while
others waited (at least 0.2 ms). Then a burst is over and waiting longer would only add
latency; a lone client, which waits for each answer, waits 0.2 ms. A request is never split.

Batches go only to ready replicas of the newest generation that has one: once a replica with
a better checkpoint is ready, no new batch goes to the older ones (which the supervisor then
retires), so a client never gets an older model's answer after a newer one's.

Each replica holds at most one batch. If it dies with a batch, every request of that batch
goes back to the head of the queue once; a request whose replica dies a second time is
answered with a 503 naming both failures. Nothing is dropped: every request gets its
predictions or an error.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import pickle
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overtone.serve import _protocol as proto
from overtone.serve._metrics import Metrics

_MIN_QUIET_S = 0.0002
logger = logging.getLogger("overtone.serve")


class RequestError(Exception):
    """A request that gets an HTTP error: ``status`` and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(eq=False)
class _Pending:
    instances: list[Any]
    future: asyncio.Future[bytes]
    enqueued: float
    retries: int = 0
    first_failure: str = ""


@dataclass(eq=False)
class _Link:
    replica_id: str
    generation: int
    writer: asyncio.StreamWriter | None = None
    state: str = "expected"  # -> connected -> ready -> (draining) -> gone
    pid: int | None = None
    hostname: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    batch: tuple[int, list[_Pending]] | None = None
    stop_sent: bool = False


class Router:
    """Batches requests and sends them to the replicas (all on the front's event loop)."""

    def __init__(
        self,
        key: bytes,
        max_batch_size: int,
        batch_wait_timeout_s: float,
        request_timeout_s: float,
        max_queued: int,
        metrics: Metrics,
        notify: Callable[[tuple[Any, ...]], None],
    ) -> None:
        self.key = key
        self.max_batch_size = max_batch_size
        self.batch_wait_timeout_s = batch_wait_timeout_s
        self.request_timeout_s = request_timeout_s
        self.max_queued = max_queued
        self.metrics = metrics
        self.notify = notify  # tells the supervisor thread (thread-safe)
        self.links: dict[str, _Link] = {}
        self.queue: deque[_Pending] = deque()
        self.queued_instances = 0
        self.unavailable: str | None = None  # why no replica can serve, once that is known
        self.stopping = False
        self._arrived: asyncio.Event | None = None
        self._freed: asyncio.Event | None = None
        self._last_arrival = 0.0
        self._gap_ewma = 0.0
        self._next_batch = 0
        self._task: asyncio.Task[None] | None = None

    # -- life -----------------------------------------------------------------------------
    def start(self) -> None:
        self._arrived = asyncio.Event()
        self._freed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._dispatch_forever())

    async def close(self, reason: str) -> None:
        self.stopping = True
        self._fail_queue(503, reason)
        for link in list(self.links.values()):
            if link.batch is not None:
                for pending in link.batch[1]:
                    _settle(pending, RequestError(503, reason))
            self._close_link(link)
        if self._task is not None:
            self._task.cancel()

    # -- requests -------------------------------------------------------------------------
    async def predict(self, instances: list[Any]) -> bytes:
        """The JSON of the predictions for ``instances`` (a list ``max_batch_size`` at most)."""
        if self.stopping:
            raise RequestError(503, "the server is stopping")
        if self.unavailable is not None and not self._ready_links():
            raise RequestError(503, self.unavailable)
        if self.queued_instances + len(instances) > self.max_queued:
            raise RequestError(
                503,
                f"the queue is full ({self.queued_instances} instances wait, at most "
                f"{self.max_queued}): retry later",
            )
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        if self.queue:
            # Gaps between requests that could share a batch: one arriving to an empty
            # queue (a lone client waiting for each answer) says nothing about bursts.
            self._gap_ewma += 0.2 * (
                min(now - self._last_arrival, self.batch_wait_timeout_s) - self._gap_ewma
            )
        self._last_arrival = now
        pending = _Pending(instances, loop.create_future(), now)
        self.queue.append(pending)
        self.queued_instances += len(instances)
        assert self._arrived is not None
        self._arrived.set()
        # A timer, not wait_for: it costs no task per request.
        timer = loop.call_later(self.request_timeout_s, self._expire, pending)
        try:
            return await pending.future
        finally:
            timer.cancel()

    def _expire(self, pending: _Pending) -> None:
        if pending.future.done():
            return
        try:
            self.queue.remove(pending)
            self.queued_instances -= len(pending.instances)
        except ValueError:
            pass  # in a batch already: its answer is dropped when it comes
        _settle(
            pending,
            RequestError(
                503,
                f"no replica answered within request_timeout_s={self.request_timeout_s:g} s "
                f"({len(self._ready_links())} replicas ready, {self.queued_instances} "
                "instances queued)",
            ),
        )

    def _fail_queue(self, status: int, reason: str) -> None:
        while self.queue:
            _settle(self.queue.popleft(), RequestError(status, reason))
        self.queued_instances = 0

    # -- batching -------------------------------------------------------------------------
    def _ready_links(self) -> list[_Link]:
        """The ready replicas that serve: those of the newest generation with one ready."""
        ready = [link for link in self.links.values() if link.state == "ready"]
        newest = max((link.generation for link in ready), default=0)
        return [link for link in ready if link.generation == newest]

    def _free_link(self) -> _Link | None:
        for link in self._ready_links():
            if link.batch is None:
                return link
        return None

    async def _dispatch_forever(self) -> None:
        while True:
            try:
                await self._dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bug here must not stop all serving
                logger.exception("overtone serve: the batcher failed; it starts again")
                await asyncio.sleep(0.01)

    async def _dispatch(self) -> None:
        assert self._arrived is not None and self._freed is not None
        while True:
            while not self.queue:
                self._arrived.clear()
                await self._arrived.wait()
            link = self._free_link()
            while link is None:
                self._freed.clear()
                await self._freed.wait()
                link = self._free_link()
            await self._fill()
            if not self.queue or link.batch is not None or link not in self._ready_links():
                continue  # it was taken, or retired, or a newer generation got ready
            self._send(link, self._take())

    async def _fill(self) -> None:
        """Wait while the batch grows (see the module's docstring for when it leaves)."""
        assert self._arrived is not None
        quiet = min(self.batch_wait_timeout_s, max(_MIN_QUIET_S, 2 * self._gap_ewma))
        while self.queue and self.queued_instances < self.max_batch_size:
            now = time.monotonic()
            deadline = min(
                self.queue[0].enqueued + self.batch_wait_timeout_s, self._last_arrival + quiet
            )
            if now >= deadline:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - now)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while self.queue and size + len(self.queue[0].instances) <= self.max_batch_size:
            pending = self.queue.popleft()
            self.queued_instances -= len(pending.instances)
            if pending.future.done():
                continue  # timed out while it waited
            batch.append(pending)
            size += len(pending.instances)
        return batch

    def _send(self, link: _Link, batch: list[_Pending]) -> None:
        if not batch:
            return
        self._next_batch += 1
        link.batch = (self._next_batch, batch)
        self.metrics.observe_batch(sum(len(p.instances) for p in batch))
        assert link.writer is not None
        try:
            link.writer.write(
                proto.encode(("batch", self._next_batch, [p.instances for p in batch]))
            )
        except (OSError, RuntimeError) as exc:
            self._lost(link, f"replica {link.replica_id} could not be reached: {exc}")

    def _requeue(self, link: _Link, reason: str) -> None:
        """Put the batch of a replica that died back at the head of the queue, once."""
        if link.batch is None:
            return
        _, batch = link.batch
        link.batch = None
        for pending in reversed(batch):
            if pending.future.done():
                continue
            if pending.retries >= 1:
                _settle(
                    pending,
                    RequestError(
                        503,
                        f"two replicas failed while handling this request: "
                        f"{pending.first_failure}; then {reason}",
                    ),
                )
                continue
            pending.retries += 1
            pending.first_failure = reason
            self.metrics.retries += 1
            self.queue.appendleft(pending)
            self.queued_instances += len(pending.instances)
        if self.queue:
            assert self._arrived is not None
            self._arrived.set()

    # -- replicas -------------------------------------------------------------------------
    def expect(self, replica_id: str, generation: int) -> None:
        self.links[replica_id] = _Link(replica_id, generation)

    def retire(self, replica_id: str) -> None:
        """Send no more batches to this replica; stop it once its batch is answered."""
        link = self.links.get(replica_id)
        if link is None or link.state == "gone":
            return
        link.state = "draining"
        if link.batch is None:
            self._stop_link(link)  # (if it has not connected yet: when it does)

    def drop(self, replica_id: str, reason: str) -> None:
        """The supervisor learnt that this replica ended: retry its batch elsewhere."""
        link = self.links.get(replica_id)
        if link is not None and link.state != "gone":
            self._lost(link, reason, tell=False)
        self.links.pop(replica_id, None)

    def set_unavailable(self, reason: str | None) -> None:
        self.unavailable = reason
        if reason is not None and not self._ready_links():
            self._fail_queue(503, reason)

    def _stop_link(self, link: _Link) -> None:
        if link.stop_sent or link.writer is None:
            return
        link.stop_sent = True
        try:
            link.writer.write(proto.encode(("stop",)))
        except (OSError, RuntimeError):
            pass

    def _close_link(self, link: _Link) -> None:
        link.state = "gone"
        if link.writer is not None:
            link.writer.close()

    def _lost(self, link: _Link, reason: str, tell: bool = True) -> None:
        was = link.state
        self._close_link(link)
        self._requeue(link, reason)
        if tell and was != "draining":
            self.notify(("lost", link.replica_id, reason))

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """A replica connects: check the key, then read its messages until it goes."""
        link: _Link | None = None
        try:
            challenge = os.urandom(proto.CHALLENGE_BYTES)
            writer.write(challenge)
            answer = await asyncio.wait_for(
                reader.readexactly(proto.MAC_BYTES + proto.CHALLENGE_BYTES),
                proto.HANDSHAKE_TIMEOUT_S,
            )
            if not hmac.compare_digest(
                answer[: proto.MAC_BYTES], proto.mac(self.key, b"replica", challenge)
            ):
                writer.close()
                return
            writer.write(proto.mac(self.key, b"front", answer[proto.MAC_BYTES :]))
            hello = await asyncio.wait_for(_read(reader), proto.HANDSHAKE_TIMEOUT_S)
            link = self.links.get(hello[1]) if hello[0] == "hello" else None
            if link is None or link.state not in ("expected", "draining") or link.writer:
                link = None
                writer.close()
                return
            link.writer, link.pid, link.hostname = writer, hello[2], hello[3]
            self.notify(("connected", link.replica_id, link.pid, link.hostname))
            if link.state == "draining":  # retired before it connected
                self._stop_link(link)
            else:
                link.state = "connected"
            while True:
                self._on_message(link, await _read(reader))
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, OSError, EOFError) as exc:
            if link is not None and link.state != "gone":
                if link.state == "draining" and link.batch is None:
                    self._close_link(link)  # stopped as asked
                else:
                    why = "its connection closed" if isinstance(exc, EOFError) else repr(exc)
                    if isinstance(exc, asyncio.IncompleteReadError):
                        why = "its connection closed"
                    self._lost(link, f"replica {link.replica_id} (pid {link.pid}) died: {why}")
            else:
                writer.close()
        except asyncio.CancelledError:
            writer.close()
            raise
        except Exception as exc:  # noqa: BLE001 - a garbled message: the replica is lost
            if link is not None and link.state != "gone":
                self._lost(
                    link, f"replica {link.replica_id} (pid {link.pid}) sent garbage: {exc!r}"
                )
            else:
                writer.close()

    def _on_message(self, link: _Link, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "result":
            if link.batch is None or link.batch[0] != message[1]:
                return
            _, batch = link.batch
            link.batch = None
            for pending, outcome in zip(batch, message[2]):
                if outcome[0]:
                    if not pending.future.done():
                        pending.future.set_result(outcome[1])
                else:
                    _settle(pending, RequestError(outcome[1], outcome[2]))
            if link.state == "draining":
                self._stop_link(link)
            else:
                assert self._freed is not None
                self._freed.set()
        elif kind == "ready":
            link.info = dict(message[1])
            if link.state == "draining":
                self._stop_link(link)
                return
            link.state = "ready"
            self.notify(("ready", link.replica_id))
            assert self._freed is not None
            self._freed.set()
        elif kind == "failed":
            if link.state != "draining":
                link.state = "failed"
                self.notify(("failed", link.replica_id, message[1]))

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "replica_id": link.replica_id,
                "generation": link.generation,
                "state": link.state,
                "pid": link.pid,
                "hostname": link.hostname,
                "busy": link.batch is not None,
                **link.info,
            }
            for link in self.links.values()
        ]


async def _read(reader: asyncio.StreamReader) -> Any:
    (size,) = proto.HEADER.unpack(await reader.readexactly(proto.HEADER.size))
    return pickle.loads(await reader.readexactly(size))


def _settle(pending: _Pending, error: RequestError) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)
        pending.future.exception()  # nobody may be waiting (timed out): no warning
