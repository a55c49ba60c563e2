"""One run at a time per experiment folder: an exclusive lock taken when an experiment starts.

Two runs with the same name and storage path (two terminals, two cluster jobs) would both
write ``experiment_state.json``, and the last writer would win. So the run that starts first
holds a lock until it ends, and a second one fails at once with :class:`ExperimentLockedError`,
which names the holder's host and process id. To continue the experiment, wait for the first
run to end and resume it (``resume=True`` / ``Tuner.restore``).

Where the lock holds:

- A local ``storage_path``: ``flock`` on ``<experiment>/.overtone-lock``. The kernel drops it
  when the holder dies (even by ``kill -9``), so there is never a stale lock to clean up. On
  NFS, Linux emulates ``flock`` with POSIX byte-range locks that the server arbitrates (NFSv4,
  or NFSv3 with the lock manager running), so it holds across machines, unless the share is
  mounted with ``nolock`` or ``local_lock=flock``/``all``, where it holds only within one
  machine. Other network file systems (SMB, FUSE mounts, some parallel file systems) may
  ignore it.
- A remote ``storage_path`` (``s3://``, ``gs://``, ``memory://`` ...): a lock object
  ``<experiment>/.overtone-lock.json`` with the holder's host, pid and a heartbeat rewritten
  every ``HEARTBEAT_S`` seconds; one whose heartbeat is older than ``STALE_S`` is taken over.
  Object stores offer no atomic create through fsspec, so this lock is advisory: two runs that
  start within the same second can both believe they hold it (each reads back its own write
  to narrow that window, not to close it).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from typing import Any

from overtone._errors import TuneError
from overtone.storage._layout import LOCK_FILE, REMOTE_LOCK_FILE

HEARTBEAT_S = 10.0
STALE_S = 60.0

# Locks held by this process, by experiment path: a lock left behind by an earlier run in
# this thread that failed before it could release it is taken over, not reported.
_held: dict[str, ExperimentLock] = {}
_held_guard = threading.Lock()


class ExperimentLockedError(TuneError):
    """Another run holds the experiment folder."""


def _holder() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "started": time.time(),
        "token": uuid.uuid4().hex,
    }


def _locked(where: str, holder: dict[str, Any] | None) -> ExperimentLockedError:
    if holder:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
        who = (
            f"process {holder.get('pid')} on host {holder.get('host')!r} (running since {started})"
        )
    else:
        who = "another process"
    return ExperimentLockedError(
        f"the experiment {where} is being run by {who}: two runs of one experiment would "
        "overwrite each other's state. Wait for that run to end and resume it "
        "(tune.run(..., resume=True) or tune.Tuner.restore), or give this run another name"
    )


def _lock_file(f: Any) -> None:
    """Lock the open file ``f`` for this process, or raise ``OSError`` at once."""
    try:
        import fcntl
    except ImportError:  # Windows: a byte-range lock on the first byte (not tested here)
        import msvcrt

        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


class ExperimentLock:
    """The lock of one experiment folder; :meth:`release` it when the run ends."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.info = _holder()
        self._file: Any = None
        self._fs: Any = None
        self._remote: str | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- local -------------------------------------------------------------------------
    def _lock_local(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        f = open(os.path.join(path, LOCK_FILE), "a+", encoding="utf-8")  # noqa: SIM115
        try:
            _lock_file(f)
        except OSError:
            f.seek(0)
            try:
                holder = json.loads(f.read() or "null")
            except (ValueError, OSError):
                holder = None
            f.close()
            raise _locked(path, holder) from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps(self.info))
        f.flush()
        self._file = f

    # -- remote ------------------------------------------------------------------------
    def _read_remote(self) -> dict[str, Any] | None:
        try:
            with self._fs.open(self._remote, "rb") as f:
                return json.loads(f.read())  # type: ignore[no-any-return]
        except (FileNotFoundError, ValueError):
            return None

    def _write_remote(self) -> None:
        self.info["heartbeat"] = time.time()
        with self._fs.open(self._remote, "wb") as f:
            f.write(json.dumps(self.info).encode())

    def _lock_remote(self, uri: str, filesystem: Any) -> None:
        from overtone.storage._remote import resolve_filesystem

        self._fs, root = resolve_filesystem(uri, filesystem)
        self._remote = f"{root}/{REMOTE_LOCK_FILE}"
        holder = self._read_remote()
        if holder and self._alive(holder):
            raise _locked(uri, holder)
        self._write_remote()
        time.sleep(0.2)  # a rival that wrote at the same moment shows by now, mostly
        holder = self._read_remote()
        if not holder or holder.get("token") != self.info["token"]:
            raise _locked(uri, holder)
        self._beat = threading.Thread(target=self._heartbeat, name="overtone-lock", daemon=True)
        self._beat.start()

    def _alive(self, holder: dict[str, Any]) -> bool:
        if self._taken_over(holder):
            return False
        return bool(time.time() - float(holder.get("heartbeat", 0)) < STALE_S)

    def _taken_over(self, holder: dict[str, Any]) -> bool:
        """A lock this very thread left behind (its run failed before releasing it)."""
        return bool(
            holder.get("host") == self.info["host"]
            and holder.get("pid") == self.info["pid"]
            and holder.get("thread") == self.info["thread"]
        )

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._write_remote()
            except Exception:  # noqa: BLE001 - a missed beat: the next one may get through
                pass

    def release(self) -> None:
        """Let the next run in (idempotent)."""
        with _held_guard:
            if _held.get(self.key) is self:
                del _held[self.key]
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.close()  # closing drops the flock
            self._file = None
        if self._remote is not None:
            self._stop.set()
            if self._beat is not None:
                self._beat.join()
            try:
                holder = self._read_remote()
                if holder and holder.get("token") == self.info["token"]:
                    self._fs.rm(self._remote)
            except Exception:  # noqa: BLE001 - it goes stale on its own
                pass
            self._remote = None


def _drop_in_child() -> None:
    """In a forked child (the local executor forks its workers): let go of the locks. A
    ``flock`` holds while any copy of its descriptor is open, so a worker that outlives the
    run would keep the experiment locked. The descriptor is pointed at ``/dev/null`` rather
    than closed, so that its number is never reused behind the file object's back."""
    for lock in list(_held.values()):
        f = lock._file
        if f is not None:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, f.fileno())
                os.close(null)
            except (OSError, ValueError):
                pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_in_child)


def lock_experiment(
    experiment_path: str, remote_uri: str | None = None, filesystem: Any = None
) -> ExperimentLock:
    """Take the experiment's lock, or raise :class:`ExperimentLockedError` naming its holder.

    Args:
        experiment_path: the local experiment folder (created if missing).
        remote_uri: the experiment's remote URI, when ``storage_path`` is remote: the lock
            is then a lock object there (the local folder is only a staging copy).
        filesystem: the fsspec filesystem for ``remote_uri`` (default: from the URI).
    """
    key = remote_uri or os.path.realpath(experiment_path)
    with _held_guard:
        old = _held.get(key)
    if old is not None and old.info["thread"] == threading.get_ident():
        old.release()  # left behind by an earlier run of this thread that raised
    lock = ExperimentLock(key)
    if remote_uri is not None:
        lock._lock_remote(remote_uri, filesystem)
    else:
        lock._lock_local(experiment_path)
    with _held_guard:
        _held[key] = lock
    return lock
