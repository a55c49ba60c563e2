"""Copy an experiment folder from remote storage to a local folder (restore, analysis)."""

from __future__ import annotations

import os
import time
from typing import Any

from overtone.storage._scan import Signature, is_staging_name, signature, write_manifest
from overtone.storage._uri import resolve_filesystem, strip_slash


def download(uri: str, local_dir: str, *, filesystem: Any = None) -> str:
    """Copy the experiment folder at ``uri`` into ``local_dir``; return its absolute path.

    Files that exist locally are overwritten. A manifest records what was downloaded, so a
    :class:`RemoteSync` of the same folder and URI uploads only what changes afterwards.

    Raises:
        ValueError: nothing is stored at ``uri``.
    """
    uri = strip_slash(uri)
    fs, root = resolve_filesystem(uri, filesystem)
    invalidate = getattr(fs, "invalidate_cache", None)
    if invalidate is not None:
        invalidate(root)
    try:
        listing = fs.find(root, detail=True)
    except FileNotFoundError:
        listing = {}
    prefix = root.lstrip("/") + "/"
    names = []
    for name, info in listing.items():
        if info.get("type", "file") != "file":
            continue
        rel = name.lstrip("/")
        if not rel.startswith(prefix):
            continue  # the root itself, if it is a file
        rel = rel[len(prefix) :]
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts) or any(is_staging_name(p) for p in parts):
            continue
        names.append((name, rel))
    if not names:
        raise ValueError(f"storage_path {uri!r} holds no experiment: no files were found there")
    local_dir = os.path.abspath(os.path.expanduser(local_dir))
    fetched: dict[str, Signature] = {}
    for name, rel in names:
        target = os.path.join(local_dir, *rel.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.tmp{os.getpid()}"
        for attempt in range(4):
            try:
                fs.get_file(name, tmp)
                break
            except FileNotFoundError:
                break  # deleted meanwhile (a pruned checkpoint)
            except Exception:
                if attempt == 3:
                    raise
                time.sleep(0.2 * 2**attempt)
        if not os.path.exists(tmp):
            continue
        os.replace(tmp, target)
        fetched[rel] = signature(os.stat(target))
    write_manifest(local_dir, uri, fetched)
    return local_dir
