"""What a remote mirror sees of a local experiment folder: its files and checkpoint folders.

A file is known by its :data:`Signature` (size, mtime, inode); staging names (checkpoints
being written, spares, ``*.tmp<pid>`` files) are never mirrored. The manifest records the
signatures known to be remote, kept across processes (``storage._remote``, ``_download``).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, NamedTuple

from overtone.storage._files import write_json_atomic
from overtone.storage._layout import MANIFEST, SAVE_PREFIX, SPARE_PREFIX, is_checkpoint_name

_TEMP_NAME = re.compile(r"\.tmp\d*$")


def checkpoint_of(rel: str) -> str | None:
    """The checkpoint folder (relative path) that ``rel`` lies in, or None."""
    parts = rel.split("/")
    for i, part in enumerate(parts[:-1]):
        if is_checkpoint_name(part):
            return "/".join(parts[: i + 1])
    return None


def is_staging_name(name: str) -> bool:
    """Folders and files being written: never uploaded."""
    return (
        name.startswith((SAVE_PREFIX, SPARE_PREFIX))
        or name.endswith(".tmp")
        or bool(_TEMP_NAME.search(name))
    )


Signature = tuple[int, int, int]  # size, mtime_ns, inode


def signature(st: os.stat_result) -> Signature:
    # The inode catches atomic replacements (os.replace) within one mtime tick, same size.
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class LocalFile(NamedTuple):
    """A local file to mirror: its path, its signature, the checkpoint folder it lies in."""

    path: str
    signature: Signature
    checkpoint: str | None  # the checkpoint folder it lies in


def read_manifest(local_dir: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(local_dir, MANIFEST), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_manifest(local_dir: str, uri: str, files: dict[str, Signature]) -> None:
    manifest = {"uri": uri, "files": {k: list(v) for k, v in files.items()}}
    write_json_atomic(os.path.join(local_dir, MANIFEST), manifest)


def _hinted_dirs(local_dir: str, only: set[str]) -> list[str] | None:
    """The hinted paths relative to ``local_dir``, outermost only; None: scan it all."""
    rels = set()
    for path in only:
        full = os.path.normpath(os.path.join(local_dir, os.path.expanduser(path)))
        rel = os.path.relpath(full, local_dir).replace(os.sep, "/")
        if rel == ".":
            return None
        if rel == ".." or rel.startswith("../"):
            continue  # not ours
        rels.add(rel)
    kept: list[str] = []
    for rel in sorted(rels):  # a parent sorts before its children
        if not any(rel.startswith(k + "/") for k in kept):
            kept.append(rel)
    return kept


def scan(
    local_dir: str, only: set[str] | None = None
) -> tuple[dict[str, LocalFile], set[str], list[str] | None]:
    """Local files and checkpoint folders, and the folders that were walked in full
    (None: all of them)."""
    files: dict[str, LocalFile] = {}
    checkpoints: set[str] = set()
    covered = None if only is None else _hinted_dirs(local_dir, only)
    stack: list[tuple[str, str, str | None]] = []
    if covered is None:
        stack.append(("", local_dir, None))
    else:
        _scan_top_files(local_dir, files)
        for rel in covered:
            if any(is_staging_name(part) for part in rel.split("/")):
                continue
            path = os.path.join(local_dir, *rel.split("/"))
            checkpoint = checkpoint_of(rel + "/-")
            if os.path.isfile(path):
                try:
                    files[rel] = LocalFile(path, signature(os.stat(path)), checkpoint_of(rel))
                except FileNotFoundError:
                    pass
                continue
            if checkpoint == rel and os.path.isdir(path):
                checkpoints.add(rel)
            stack.append((rel, path, checkpoint))
    while stack:
        rel_dir, abs_dir, checkpoint = stack.pop()
        try:
            entries = list(os.scandir(abs_dir))
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while we walk (a pruned checkpoint)
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if is_staging_name(name) or (not rel_dir and name.startswith(MANIFEST)):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    inner = checkpoint
                    if inner is None and is_checkpoint_name(name):
                        inner = rel
                        checkpoints.add(rel)
                    stack.append((rel, entry.path, inner))
                elif entry.is_file():
                    files[rel] = LocalFile(entry.path, signature(entry.stat()), checkpoint)
            except FileNotFoundError:
                continue
    return files, checkpoints, covered


def _scan_top_files(local_dir: str, files: dict[str, LocalFile]) -> None:
    """The files directly in ``local_dir``: the state files, in every pass."""
    try:
        entries = list(os.scandir(local_dir))
    except FileNotFoundError:
        return
    for entry in entries:
        name = entry.name
        if is_staging_name(name) or name.startswith(MANIFEST):
            continue
        try:
            if entry.is_file():
                files[name] = LocalFile(entry.path, signature(entry.stat()), None)
        except FileNotFoundError:
            continue
