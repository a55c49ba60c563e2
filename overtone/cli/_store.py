"""Read-only access to a storage root: a local folder or an fsspec URI.

The command line and the dashboard share this reader (:class:`Store`); the experiments and
trials it reads are :mod:`overtone.cli._views`. It never writes anything.

Every path is built by :meth:`Store.path` from name parts that are checked one by one
(no ``..``, no separators, no hidden names) and, locally, resolved through symlinks and
refused if they leave the root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from overtone.storage._layout import STATE_FILE
from overtone.storage._remote import is_remote, resolve_filesystem


class PathRefused(ValueError):
    """A path that would leave the storage root, or names something hidden."""


def check_part(part: str) -> str:
    """``part`` if it is one plain name inside a folder, else :class:`PathRefused`."""
    if (
        not isinstance(part, str)
        or not part
        or part in (".", "..")
        or part.startswith(".")
        or any(c in part for c in ("/", "\\", "\x00"))
    ):
        raise PathRefused(f"path part {part!r} is refused: it must be a plain name in the folder")
    return part


class Store:
    """A storage root, read-only: a local folder or an fsspec URI (``s3://``, ``memory://``).

    Args:
        root: the storage path (``~`` is expanded) or URI.
        filesystem: an fsspec filesystem to reach a URI with (default: from the URI).
    """

    def __init__(self, root: str, filesystem: Any = None) -> None:
        self.uri = root
        self.remote = is_remote(root) or filesystem is not None
        if self.remote:
            self.fs, self.root = resolve_filesystem(root, filesystem)
        else:
            self.fs = None
            self.root = os.path.realpath(os.path.abspath(os.path.expanduser(root)))

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    # -- paths -----------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        """The full path of ``parts`` under the root; :class:`PathRefused` if it leaves it."""
        for part in parts:
            check_part(part)
        if self.remote:
            return "/".join([self.root, *parts])
        full = os.path.join(self.root, *parts)
        real = os.path.realpath(full)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise PathRefused(f"{'/'.join(parts)!r} is refused: it leads outside {self.root}")
        return real

    def display(self, *parts: str) -> str:
        """What to show a person for ``parts``: a local path, or the URI."""
        if self.remote:
            base = self.uri.rstrip("/")
            return "/".join([base, *parts])
        return os.path.join(self.root, *parts)

    # -- reading ---------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget cached remote listings, so that the next read sees new files."""
        invalidate = getattr(self.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate()

    def read_bytes(self, *parts: str, start: int = 0) -> bytes | None:
        """The file's bytes from ``start`` on; None if there is no such file."""
        path = self.path(*parts)
        try:
            if self.remote:
                if start:
                    return self.fs.cat_file(path, start=start)
                return self.fs.cat_file(path)
            with open(path, "rb") as f:
                if start:
                    f.seek(start)
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def read_stat(self, *parts: str) -> tuple[bytes, float] | None:
        """(bytes, mtime) of a file, or None: one open locally."""
        path = self.path(*parts)
        if self.remote:
            info = self.stat(*parts)
            data = self.read_bytes(*parts)
            return None if info is None or data is None else (data, info[1])
        try:
            with open(path, "rb") as f:
                return f.read(), os.fstat(f.fileno()).st_mtime
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def read_text(self, *parts: str) -> str | None:
        data = self.read_bytes(*parts)
        return None if data is None else data.decode("utf-8", errors="replace")

    def stat(self, *parts: str) -> tuple[int, float] | None:
        """(size, mtime in seconds) of a file, or None."""
        path = self.path(*parts)
        if self.remote:
            try:
                info = self.fs.info(path)
            except FileNotFoundError:
                return None
            if info.get("type") == "directory":
                return None
            return int(info.get("size") or 0), _remote_mtime(info)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size, st.st_mtime

    def listdir(self, *parts: str) -> list[tuple[str, bool, int, float]]:
        """(name, is folder, size, mtime) of each visible entry of a folder; [] if none."""
        path = self.path(*parts)
        out: list[tuple[str, bool, int, float]] = []
        if self.remote:
            try:
                entries = self.fs.ls(path, detail=True)
            except FileNotFoundError:
                return []
            for info in entries:
                name = info["name"].rstrip("/").rsplit("/", 1)[-1]
                if name.startswith(".") or info["name"].rstrip("/") == path.rstrip("/"):
                    continue
                is_dir = info.get("type") == "directory"
                out.append((name, is_dir, int(info.get("size") or 0), _remote_mtime(info)))
            return sorted(out)
        try:
            with os.scandir(path) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    try:
                        st = entry.stat()
                    except OSError:
                        continue
                    out.append((entry.name, entry.is_dir(), st.st_size, st.st_mtime))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(out)

    def sizes(self, *parts: str) -> dict[str, tuple[int, float]]:
        """(size, mtime) of every file under a folder, by path relative to it (one listing)."""
        base = self.path(*parts)
        out: dict[str, tuple[int, float]] = {}
        if self.remote:
            try:
                listing = self.fs.find(base, detail=True)
            except FileNotFoundError:
                return {}
            prefix = base.lstrip("/") + "/"
            for name, info in listing.items():
                rel = name.lstrip("/")
                if rel.startswith(prefix) and info.get("type", "file") == "file":
                    out[rel[len(prefix) :]] = (int(info.get("size") or 0), _remote_mtime(info))
            return out
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel_dir = os.path.relpath(dirpath, base)
            for name in filenames:
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                rel = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
                out[rel] = (st.st_size, st.st_mtime)
        return out

    def experiment_names(self) -> list[str]:
        """The folders directly under the root that hold an ``experiment_state.json``."""
        if self.remote:
            self.invalidate()
            try:
                found = self.fs.glob(f"{self.root}/*/{STATE_FILE}")
            except FileNotFoundError:
                return []
            names = {p.rstrip("/").rsplit("/", 2)[-2] for p in found}
            return sorted(n for n in names if not n.startswith("."))
        names = []
        try:
            with os.scandir(self.root) as it:
                for entry in it:
                    if not entry.name.startswith(".") and entry.is_dir():
                        if os.path.isfile(os.path.join(entry.path, STATE_FILE)):
                            names.append(entry.name)
        except FileNotFoundError:
            return []
        return sorted(names)

    def open_local(self, *parts: str) -> str | None:
        """The local path of a file (None remotely): for streaming it as it is."""
        if self.remote:
            return None
        return self.path(*parts)

    def walk_files(self, *parts: str) -> Iterator[tuple[str, str]]:
        """(path relative to ``parts``, full path) of every file under a folder."""
        base = self.path(*parts)
        if self.remote:
            for name, rel in _remote_files(self.fs, base):
                yield rel, name
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                real = os.path.realpath(full)
                if not real.startswith(self.root + os.sep):
                    continue  # a symlink out of the root is never served
                yield os.path.relpath(full, base).replace(os.sep, "/"), real

    def read_full(self, full: str) -> bytes:
        """The bytes of a full path returned by :meth:`walk_files`."""
        if self.remote:
            return self.fs.cat_file(full)
        with open(full, "rb") as f:
            return f.read()


def _remote_files(fs: Any, base: str) -> Iterator[tuple[str, str]]:
    prefix = base.lstrip("/") + "/"
    for name in sorted(fs.find(base)):
        rel = name.lstrip("/")
        if rel.startswith(prefix):
            yield name, rel[len(prefix) :]


def _remote_mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        timestamp = getattr(value, "timestamp", None)
        if callable(timestamp):
            return float(timestamp())
    return 0.0
