"""A replica: the trainable that an executor runs to serve predictions.

It runs in an executor's worker process like any trial (with the trial's resources and
``CUDA_VISIBLE_DEVICES``), connects back to the front process, loads the predictor from the
checkpoint and answers batches until the front tells it to stop or goes away.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import sys
import traceback
from typing import Any

import cloudpickle

from overtone.serve._protocol import ReplicaConnection

_JSON_TYPES = (str, int, float, bool, type(None))


def to_jsonable(value: Any) -> Any:
    """numpy arrays and scalars (and anything with ``tolist``/``item``) as plain Python."""
    if isinstance(value, _JSON_TYPES):
        return value
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return to_jsonable(tolist())
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return value  # json.dumps names it if it cannot be encoded


class _Runner:
    """Calls the predictor, sync or async, and turns its answers into JSON per request."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.is_async = inspect.iscoroutinefunction(predictor.predict)
        self.loop = asyncio.new_event_loop() if self.is_async else None

    def _call(self, instances: list[Any]) -> list[Any]:
        if self.loop is not None:
            out = self.loop.run_until_complete(self.predictor.predict(instances))
        else:
            out = self.predictor.predict(instances)
        if hasattr(out, "tolist") and not isinstance(out, (list, tuple)):
            out = out.tolist()
        if not isinstance(out, (list, tuple)):
            raise TypeError(
                f"predict() returned {type(out).__name__}, but must return a list with one "
                "prediction per instance"
            )
        if len(out) != len(instances):
            raise ValueError(
                f"predict() returned {len(out)} predictions for {len(instances)} instances, "
                "but must return one per instance"
            )
        return list(out)

    def _encode(self, predictions: list[Any]) -> tuple[Any, ...]:
        try:
            body = json.dumps(
                to_jsonable(predictions), allow_nan=False, separators=(",", ":")
            ).encode()
        except (TypeError, ValueError) as exc:
            return (False, 500, f"the predictions cannot be sent as JSON: {exc}")
        return (True, body)

    def run(self, segments: list[list[Any]]) -> list[tuple[Any, ...]]:
        if len(segments) == 1:
            return [self._one(segments[0])]
        flat = [x for segment in segments for x in segment]
        try:
            predictions = self._call(flat)
        except Exception:  # noqa: BLE001 - find which request fails: try each alone
            return [self._one(segment) for segment in segments]
        outcomes = []
        start = 0
        for segment in segments:
            outcomes.append(self._encode(predictions[start : start + len(segment)]))
            start += len(segment)
        return outcomes

    def _one(self, instances: list[Any]) -> tuple[Any, ...]:
        try:
            return self._encode(self._call(instances))
        except Exception as exc:  # noqa: BLE001 - the client gets the error, we go on
            traceback.print_exc(file=sys.stderr)
            return (False, 500, f"the predictor raised {type(exc).__name__}: {exc}")

    def close(self) -> None:
        close = getattr(self.predictor, "close", None)
        if callable(close):
            close()
        if self.loop is not None:
            self.loop.close()


def run_replica(config: dict[str, Any]) -> None:
    """The replica's trainable (``config`` is made by the front, not by a search space)."""
    conn = ReplicaConnection(tuple(config["address"]), config["key"])
    try:
        conn.send(("hello", config["replica_id"], os.getpid(), socket.gethostname()))
        try:
            cls = cloudpickle.loads(config["predictor"])
            predictor = cls(config["checkpoint"], dict(config["config"]))
            runner = _Runner(predictor)
        except BaseException:
            conn.send(("failed", traceback.format_exc()))
            raise
        conn.send(
            (
                "ready",
                {
                    "pid": os.getpid(),
                    "hostname": socket.gethostname(),
                    "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                },
            )
        )
        try:
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    return  # the front is gone
                if message[0] == "batch":
                    conn.send(("result", message[1], runner.run(message[2])))
                elif message[0] == "stop":
                    return
        finally:
            runner.close()
    finally:
        conn.close()
