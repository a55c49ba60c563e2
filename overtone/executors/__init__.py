"""Where trials run: the executor interface and the local worker-process executor."""

from overtone.executors._base import DoneEvent, ErrorEvent, Event, Executor, ResultEvent
from overtone.executors._local import LocalExecutor

__all__ = ["DoneEvent", "ErrorEvent", "Event", "Executor", "LocalExecutor", "ResultEvent"]
