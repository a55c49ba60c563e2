"""Mirror an experiment folder to remote storage (S3, GCS, ``memory://``...) through fsspec.

The controller writes the experiment to a local staging folder (:func:`staging_dir`) exactly as
it does for a local ``storage_path``; a :class:`RemoteSync` thread mirrors that folder to the
URI, so the event loop never waits on the network. :func:`download` copies an experiment back
for restore and analysis.

What a mirror pass guarantees:

- Files are uploaded when new or changed since their last upload (size, mtime and inode
  differ); a file that grows, like ``result.json``, is uploaded again whole.
- ``checkpoint_NNNNNN`` folders are uploaded once they exist under that name (checkpoints are
  renamed into place, so the name means complete); staging folders (``*.tmp``, ``.save-*``) and
  files named ``*.tmp<pid>`` never are. A checkpoint folder removed locally (``num_to_keep``)
  is deleted remotely.
- ``experiment_state.json`` is uploaded last, and only when every checkpoint file and root
  state file (``*.pkl``) of the pass is uploaded, so the remote state file never names data
  that is missing remotely. Remote checkpoint folders are deleted only after that, once the
  remote state no longer names them.
- A failed upload is retried with exponential backoff; one that still fails is reported
  through ``on_error`` (once per file until it succeeds) and retried on the next pass.
- Files other than checkpoints that disappear locally are left in place remotely.

What is known to be uploaded is kept in ``.overtone_sync.json`` inside the local folder (never
uploaded), written by :meth:`RemoteSync.flush` and :func:`download`: a sync that resumes on the
same staging folder, or starts on a downloaded one, uploads only what changed since. It trusts
that nothing else writes to the remote folder meanwhile.

Configuring the endpoint of an S3-compatible server (MinIO, Ceph, R2, moto):

- Without code: set ``AWS_ENDPOINT_URL=http://host:9000`` (or the S3-only
  ``AWS_ENDPOINT_URL_S3``), which botocore (under s3fs) honours, with credentials from
  ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or any other botocore source. fsspec's own
  ``FSSPEC_S3_ENDPOINT_URL`` works too, if set before fsspec is imported.
- In code: pass a configured filesystem, e.g.
  ``filesystem=s3fs.S3FileSystem(endpoint_url="http://host:9000", key=..., secret=...)``.
  The URI's path part (``bucket/prefix``) is then resolved by that filesystem.

Example::

    sync = RemoteSync(staging_dir("s3://bucket/exp"), "s3://bucket/exp").start()
    ...  # write files under the staging folder, call sync.notify() after each change
    errors = sync.close()  # the final, complete upload
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from overtone.storage._download import download
from overtone.storage._layout import MANIFEST, STATE_FILE
from overtone.storage._scan import (
    LocalFile,
    Signature,
    checkpoint_of,
    read_manifest,
    scan,
    write_manifest,
)
from overtone.storage._uri import (
    is_local_fs,
    is_remote,
    resolve_filesystem,
    staging_dir,
    strip_slash,
)

__all__ = [
    "MANIFEST",
    "RemoteSync",
    "download",
    "is_remote",
    "resolve_filesystem",
    "staging_dir",
]

_SWEEP_S = 10.0  # a pass this often even without notify(): workers write logs on their own
_MAX_BACKOFF_S = 10.0


class _Failed(Exception):
    def __init__(self, cause: BaseException, attempts: int) -> None:
        super().__init__(f"{attempts} attempt{'s' if attempts != 1 else ''}: {cause!r}")
        self.cause = cause
        self.attempts = attempts


class _Vanished(Exception):
    """The local file went away while it was being uploaded (e.g. a pruned checkpoint)."""


class _Aborted(Exception):
    """A flush wants the lock, the thread is closing, or a flush ran out of time."""


def _warn(message: str) -> None:
    print(f"overtone: warning: {message}", file=sys.stderr, flush=True)


class RemoteSync:
    """Mirrors a local experiment folder to a remote URI from a background thread.

    Args:
        local_dir: the folder the controller writes to.
        uri: where to mirror it, e.g. ``s3://bucket/prefix/exp`` or ``memory://exp``.
        interval_s: the least time between the starts of two background passes.
        max_retries: retries of a failed upload or delete within one pass (with backoff
            ``backoff_s * 2**n``, at most 10 s). Once one file has used them up, the rest of
            that pass tries each file once, so an unreachable remote does not stall it.
        backoff_s: the first retry's delay.
        filesystem: an fsspec filesystem to use instead of the one ``uri`` names (to set
            an endpoint or credentials).
        on_error: called with a message when a file still fails after its retries, once per
            file until it succeeds; default: a warning on stderr. It runs on the sync
            thread (or the one calling :meth:`flush`), and must not call flush or close.

    Counters: ``uploaded_files``, ``uploaded_bytes``, ``deleted_folders`` and ``failed``
    (operations that failed after all their retries).
    """

    def __init__(
        self,
        local_dir: str,
        uri: str,
        *,
        interval_s: float = 1.0,
        max_retries: int = 5,
        backoff_s: float = 0.2,
        filesystem: Any = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        if interval_s < 0:
            raise ValueError(f"interval_s is {interval_s}, but must be >= 0")
        if max_retries < 0:
            raise ValueError(f"max_retries is {max_retries}, but must be >= 0")
        if backoff_s < 0:
            raise ValueError(f"backoff_s is {backoff_s}, but must be >= 0")
        self.local_dir = os.path.abspath(os.path.expanduser(local_dir))
        self.uri = strip_slash(uri)
        self.interval_s = interval_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._fs, self._root = resolve_filesystem(self.uri, filesystem)
        self._local_fs = is_local_fs(self._fs)
        if self._local_fs and os.path.realpath(self._root) == os.path.realpath(self.local_dir):
            raise ValueError(f"uri {uri!r} is local_dir itself, but must be another folder")
        self._on_error = on_error or _warn

        self.uploaded_files = 0
        self.uploaded_bytes = 0
        self.deleted_folders = 0
        self.failed = 0

        self._uploaded: dict[str, Signature] = {}  # relative path -> signature uploaded
        self._remote_checkpoints: set[str] = set()  # checkpoint folders with remote content
        self._failing: dict[str, str] = {}  # key -> the last error message
        self._retries_left = True  # within the current pass
        self._manifest_saved: dict[str, Signature] = {}
        self._load_manifest()

        self._lock = threading.Lock()  # one pass at a time
        self._hints_lock = threading.Lock()
        self._hints: set[str] = set()
        self._full_requested = False
        self._next_sweep = 0.0
        self._wake = threading.Event()
        self._interrupt = threading.Event()  # a flush is waiting: the background pass yields
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_start = float("-inf")
        self._closed = False

    def __repr__(self) -> str:
        return f"RemoteSync({self.local_dir!r} -> {self.uri!r})"

    # -- the public surface ----------------------------------------------------------------

    def start(self) -> RemoteSync:
        """Start the background thread (a daemon); returns self."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; make a new RemoteSync to sync again")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="overtone-remote-sync", daemon=True
            )
            self._thread.start()
        return self

    def notify(self, path: str | None = None) -> None:
        """Ask for a pass soon. Cheap, non-blocking and thread-safe.

        Args:
            path: what changed, a folder or file under ``local_dir`` (absolute, or relative
                to it), e.g. a trial's folder after a result. The next pass then looks only
                at the hinted paths and the top folder's own files (the state files), which
                keeps passes cheap in experiments of thousands of trials. Without it, the
                next pass walks the whole folder. Either way a full pass runs every 10 s,
                and :meth:`flush` always runs one.
        """
        with self._hints_lock:  # held for a set.add: never long
            if path is None:
                self._full_requested = True
            else:
                self._hints.add(path)
        self._wake.set()

    def flush(self, timeout: float | None = None) -> list[str]:
        """Run a complete pass now, in this thread; return the errors (empty: all uploaded).

        An upload in flight in the background is let finish first; ``timeout`` bounds the
        whole call, and running out of it is reported as an error.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._interrupt.set()
        acquired = self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0))
        if not acquired:
            return [
                f"flush of {self.local_dir} to {self.uri} timed out after {timeout:g} s "
                "waiting for the upload in progress",
                *self._failing.values(),
            ]
        try:
            self._interrupt.clear()
            left = self._pass(deadline=deadline, background=False)
            self._save_manifest()
            errors = list(self._failing.values())
        finally:
            self._lock.release()
        if left:
            errors.append(
                f"flush of {self.local_dir} to {self.uri} timed out after {timeout:g} s with "
                f"{left} file{'s' if left != 1 else ''} not yet uploaded"
            )
        return errors

    def close(self, timeout: float | None = 60) -> list[str]:
        """Flush, then stop the thread; return the flush's errors. Calling it again is a no-op
        that returns the errors still pending."""
        if self._closed:
            return list(self._failing.values())
        start = time.monotonic()
        errors = self.flush(timeout)
        self._closed = True
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            left = None if timeout is None else max(timeout - (time.monotonic() - start), 1.0)
            self._thread.join(left)
        return errors

    @property
    def pending_errors(self) -> list[str]:
        """Errors of files that still fail (each is retried on the next pass)."""
        return list(self._failing.values())

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        self._next_sweep = time.monotonic() + _SWEEP_S
        while not self._closing.is_set():
            if self._failing:  # retry on the next interval even if nothing notifies
                timeout = max(self.interval_s, 0.1)
            else:
                timeout = max(self._next_sweep - time.monotonic(), 0.0)
            self._wake.wait(timeout)
            if self._closing.is_set():
                return
            self._wake.clear()
            delay = self._last_start + self.interval_s - time.monotonic()
            if delay > 0 and self._closing.wait(delay):
                return
            with self._hints_lock:
                full = (
                    self._full_requested
                    or bool(self._failing)
                    or time.monotonic() >= self._next_sweep
                )
                hints, self._hints, self._full_requested = self._hints, set(), False
            if not full and not hints:
                continue
            with self._lock:
                if self._closing.is_set() or self._interrupt.is_set():
                    continue  # a flush is about to run a full pass anyway
                try:
                    self._pass(deadline=None, background=True, only=None if full else hints)
                except Exception as exc:  # a bug must not end the mirroring silently
                    self._fail(
                        "<pass>", f"a sync pass of {self.local_dir} to {self.uri} failed: {exc!r}"
                    )
            if full:
                self._next_sweep = time.monotonic() + _SWEEP_S

    # -- one pass ---------------------------------------------------------------------------

    def _pass(
        self, *, deadline: float | None, background: bool, only: set[str] | None = None
    ) -> int:
        """Upload what changed, then the state file, then delete pruned checkpoints.

        ``only``: look at these paths (and the top folder's files) rather than everything.
        Returns how many uploads were left undone because the pass was cut short.
        """
        self._last_start = time.monotonic()
        self._retries_left = True
        self._failing.pop("<pass>", None)
        files, local_checkpoints, covered = scan(self.local_dir, only)
        todo = [rel for rel, local in files.items() if self._uploaded.get(rel) != local.signature]
        todo.sort(key=lambda rel: _upload_rank(rel, files[rel]))
        blocking = 0  # failed uploads that the state file must not get ahead of
        for n, rel in enumerate(todo):
            try:
                self._check_abort(deadline, background)
            except _Aborted:
                return len(todo) - n
            local = files[rel]
            if rel == STATE_FILE and blocking:
                self._fail(
                    STATE_FILE,
                    f"{STATE_FILE} of {self.local_dir} was not uploaded to "
                    f"{self.uri}, so that it names no data missing there: {blocking} "
                    "checkpoint or state file(s) failed to upload",
                )
                continue
            try:
                ok = self._upload(rel, local, deadline, background)
            except _Aborted:
                return len(todo) - n
            if not ok and (local.checkpoint is not None or _upload_rank(rel, local) == 2):
                blocking += 1
        state = files.get(STATE_FILE)
        if state is None or self._uploaded.get(STATE_FILE) == state.signature:
            try:
                self._delete_pruned(files, local_checkpoints, covered, deadline, background)
            except _Aborted:
                pass
        return 0

    def _remote(self, rel: str) -> str:
        return f"{self._root}/{rel}"

    def _upload(
        self, rel: str, local: LocalFile, deadline: float | None, background: bool
    ) -> bool:
        remote = self._remote(rel)
        if local.checkpoint is not None:
            self._remote_checkpoints.add(local.checkpoint)

        def put() -> None:
            if self._local_fs:  # a plain copy is not atomic: copy aside, then rename
                self._fs.makedirs(os.path.dirname(remote), exist_ok=True)
                tmp = f"{remote}.tmp{os.getpid()}"
                self._fs.put_file(local.path, tmp)
                self._fs.mv(tmp, remote)
            else:  # object stores and memory:// replace an object whole
                self._fs.put_file(local.path, remote)

        try:
            self._retry(put, deadline, background, gone=lambda: not os.path.exists(local.path))
        except _Vanished:
            return True  # deleted locally meanwhile: nothing to upload
        except _Failed as exc:
            self._fail(rel, f"upload of {local.path} to {self.uri}/{rel} failed after {exc}")
            return False
        self._uploaded[rel] = local.signature
        self.uploaded_files += 1
        self.uploaded_bytes += local.signature[0]
        self._succeeded(rel)
        return True

    def _delete_pruned(
        self,
        files: dict[str, LocalFile],
        local_checkpoints: set[str],
        covered: list[str] | None,
        deadline: float | None,
        background: bool,
    ) -> None:
        """Delete remote checkpoint folders (and files in them) that are gone locally.

        Only folders under ``covered`` (walked in full by this pass; None: all) are judged.
        """
        gone = self._remote_checkpoints - local_checkpoints
        if covered is not None:
            gone = {f for f in gone if any(f == d or f.startswith(d + "/") for d in covered)}
        for folder in sorted(gone):
            self._check_abort(deadline, background)
            key = f"delete:{folder}"
            try:
                self._retry(partial(self._rm, self._remote(folder)), deadline, background)
            except _Failed as exc:
                self._fail(
                    key, f"deleting {self.uri}/{folder} (removed locally) failed after {exc}"
                )
                continue
            self._remote_checkpoints.discard(folder)
            prefix = folder + "/"
            for rel in [r for r in self._uploaded if r.startswith(prefix)]:
                del self._uploaded[rel]
            self.deleted_folders += 1
            self._succeeded(key)
        # A checkpoint folder written again under the same name may have fewer files.
        stale = [
            rel
            for rel in self._uploaded
            if rel not in files and checkpoint_of(rel) in local_checkpoints
        ]
        for rel in stale:
            self._check_abort(deadline, background)
            key = f"delete:{rel}"
            try:
                self._retry(partial(self._rm, self._remote(rel)), deadline, background)
            except _Failed as exc:
                self._fail(key, f"deleting {self.uri}/{rel} (removed locally) failed after {exc}")
                continue
            del self._uploaded[rel]
            self._succeeded(key)

    def _rm(self, remote: str) -> None:
        try:
            self._fs.rm(remote, recursive=True)
        except FileNotFoundError:
            pass  # already gone
        invalidate = getattr(self._fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate(remote)

    # -- retries and errors -----------------------------------------------------------------

    def _check_abort(self, deadline: float | None, background: bool) -> None:
        if background and (self._interrupt.is_set() or self._closing.is_set()):
            raise _Aborted
        if deadline is not None and time.monotonic() >= deadline:
            raise _Aborted

    def _retry(
        self,
        op: Callable[[], None],
        deadline: float | None,
        background: bool,
        gone: Callable[[], bool] | None = None,
    ) -> None:
        retries = self.max_retries if self._retries_left else 0
        attempt = 0
        while True:
            attempt += 1
            try:
                op()
                return
            except Exception as exc:
                if gone is not None and gone():
                    raise _Vanished from exc
                if attempt > retries:
                    self._retries_left = False
                    raise _Failed(exc, attempt) from exc
                delay = min(self.backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise _Failed(exc, attempt) from exc
                if background:
                    if self._interrupt.wait(delay) or self._closing.is_set():
                        raise _Aborted from exc
                else:
                    time.sleep(delay)

    def _fail(self, key: str, message: str) -> None:
        self.failed += 1
        first = key not in self._failing
        self._failing[key] = message
        if first:
            try:
                self._on_error(message)
            except Exception as exc:  # the callback's bug must not stop the mirroring
                _warn(f"on_error callback raised {exc!r} on: {message}")

    def _succeeded(self, key: str) -> None:
        self._failing.pop(key, None)

    # -- the manifest: what is known to be remote, kept across processes -------------------

    def _load_manifest(self) -> None:
        data = read_manifest(self.local_dir)
        if data is None or data.get("uri") != self.uri:
            return
        for rel, sig in data.get("files", {}).items():
            if isinstance(sig, list) and len(sig) == 3:
                self._uploaded[rel] = (int(sig[0]), int(sig[1]), int(sig[2]))
                checkpoint = checkpoint_of(rel)
                if checkpoint is not None:
                    self._remote_checkpoints.add(checkpoint)
        self._manifest_saved = dict(self._uploaded)

    def _save_manifest(self) -> None:
        if self._uploaded == self._manifest_saved or not os.path.isdir(self.local_dir):
            return
        write_manifest(self.local_dir, self.uri, self._uploaded)
        self._manifest_saved = dict(self._uploaded)


def _upload_rank(rel: str, local: LocalFile) -> int:
    """Upload order: checkpoints, trial files, root state files, experiment_state.json."""
    if rel == STATE_FILE:
        return 3
    if "/" not in rel and rel.endswith(".pkl"):
        return 2
    return 0 if local.checkpoint is not None else 1
