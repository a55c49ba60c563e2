"""The worker process: receives trials from the driver and runs them one at a time.

Started by the local executor as ``python -m overtone.executors._worker FD`` where FD is
its end of a socket pair, or forked by its fork server (:func:`forked_main`); it speaks the
protocol of ``_messages`` (``LoadTrainable``, ``RunTrial`` and ``Exit`` in; events, and
``Bye``, out; a ``Decision`` after each result it waits on).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from overtone._trial import Decision
from overtone.executors._messages import (
    Bye,
    DoneEvent,
    ErrorEvent,
    Exit,
    LoadTrainable,
    ResultEvent,
    RunTrial,
)
from overtone.executors._process import die_with_parent
from overtone.runtime._runner import TrialDirs, release_kept, run_trial
from overtone.runtime._session import TrialInfo


class _LoadFailure:
    def __init__(self, text: str) -> None:
        self.text = text


class _ConnChannel:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.trial_id = ""

    def report(
        self, result: dict[str, Any], checkpoint_dirname: str | None, wait: bool
    ) -> Decision:
        self.conn.send(ResultEvent(self.trial_id, result, checkpoint_dirname))
        return self.conn.recv() if wait else Decision.CONTINUE  # type: ignore[no-any-return]


@contextlib.contextmanager
def _redirected(log_files: tuple[str, str] | None) -> Iterator[None]:
    """Send the trial's stdout and stderr (its prints and its C libraries') to files."""
    if log_files is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out = os.open(log_files[0], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    err = (
        out
        if log_files[1] == log_files[0]
        else os.open(log_files[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    )
    os.dup2(out, 1)
    os.dup2(err, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in {out, err, *saved}:
            os.close(fd)


def _prepare(dirs: TrialDirs, info: TrialInfo) -> str | None:
    try:
        dirs.prepare(info)
    except OSError:
        return "The worker could not prepare the trial's folder:\n" + traceback.format_exc()
    return None


def serve(conn: Connection) -> None:
    trainables: dict[str, Any] = {}
    channel = _ConnChannel(conn)
    dirs = TrialDirs()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            dirs.drop_spare()
            return  # the driver is gone
        if isinstance(msg, LoadTrainable):
            try:
                trainables[msg.key] = cloudpickle.loads(msg.blob)
            except BaseException:  # noqa: BLE001 - reported when a trial needs it
                trainables[msg.key] = _LoadFailure(traceback.format_exc())
        elif isinstance(msg, RunTrial):
            info: TrialInfo = msg.info
            channel.trial_id = info.trial_id
            os.environ.update(info.env)
            trainable = trainables[msg.key]
            error = info.config_error or _prepare(dirs, info)
            if error is None and isinstance(trainable, _LoadFailure):
                error = "The trainable could not be loaded in the worker:\n" + trainable.text
            if error is None:
                with _redirected(info.log_files):
                    error = run_trial(trainable, info, channel)
            sys.stdout.flush()
            sys.stderr.flush()
            if error is None:
                conn.send(DoneEvent(info.trial_id))
            else:
                conn.send(ErrorEvent(info.trial_id, error))
            dirs.make_spare(info, conn.poll)  # while the driver chooses the next trial
        elif isinstance(msg, Exit):
            dirs.drop_spare()
            try:
                conn.send(Bye())  # the driver may wait for this: no spare is left now
            except OSError:
                pass
            release_kept()
            return


def forked_main(fds: list[int]) -> None:
    """A worker forked by the fork server (``_forkserver``): ``fds`` are its connection and
    its life pipe's read end."""
    os.environ.pop("OVERTONE_PARENT_PID", None)  # its parent is the fork server
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(fds[1], None)
    serve(Connection(fds[0]))
    sys.stdout.flush()
    sys.stderr.flush()


def main() -> None:
    # Ctrl-C belongs to the driver, which stops trials cleanly; workers must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.environ.pop("OVERTONE_PARENT_PID", None)
    die_with_parent(
        int(sys.argv[2]) if len(sys.argv) > 2 else None,
        int(parent) if parent else None,
    )
    sock = socket.socket(fileno=int(sys.argv[1]))
    conn = Connection(sock.detach())
    serve(conn)


if __name__ == "__main__":
    main()
