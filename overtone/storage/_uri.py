"""Storage URIs: which are remote, their fsspec filesystem, and the local folder to stage in."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

# protocol -> (the packages it needs, the extra that installs them)
_EXTRAS = {
    "s3": ("fsspec and s3fs", "s3"),
    "s3a": ("fsspec and s3fs", "s3"),
    "gs": ("fsspec and gcsfs", "gcs"),
    "gcs": ("fsspec and gcsfs", "gcs"),
    "az": ("fsspec and adlfs", "azure"),
    "abfs": ("fsspec and adlfs", "azure"),
    "abfss": ("fsspec and adlfs", "azure"),
}


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names remote storage: any ``scheme://`` except ``file://``."""
    return "://" in uri and not uri.startswith("file://")


def strip_slash(uri: str) -> str:
    """``uri`` without trailing slashes, but never its ``://``."""
    head, sep, tail = uri.partition("://")
    return head + sep + tail.rstrip("/") if sep else uri.rstrip("/") or uri


def staging_dir(uri: str) -> str:
    """A stable local folder in which to stage the experiment that is mirrored to ``uri``.

    ``$OVERTONE_STAGING_DIR/<sha1 of uri>[:12]/<last path part>``; without that variable, the
    base is ``.staging`` under the local storage path (``$OVERTONE_STORAGE_PATH`` if it is
    local, else ``~/overtone_results``). The same URI always gives the same folder, so a run
    that resumes on the same machine finds its staged files.
    """
    base = os.environ.get("OVERTONE_STAGING_DIR")
    if not base:
        local = os.environ.get("OVERTONE_STORAGE_PATH")
        if not local or is_remote(local):
            local = os.path.join("~", "overtone_results")
        base = os.path.join(local, ".staging")
    norm = strip_slash(uri)
    digest = hashlib.sha1(norm.encode("utf-8")).hexdigest()[:12]
    last = norm.split("://", 1)[-1].rsplit("/", 1)[-1]
    last = re.sub(r"[^\w.-]", "_", last).lstrip(".") or "experiment"
    return os.path.join(os.path.abspath(os.path.expanduser(base)), digest, last)


def resolve_filesystem(uri: str, filesystem: Any = None) -> tuple[Any, str]:
    """The fsspec filesystem and the root path (no protocol, no trailing slash) of ``uri``."""
    if filesystem is not None:
        root = filesystem._strip_protocol(uri)
    else:
        protocol = uri.split("://", 1)[0] if "://" in uri else "file"
        packages, extra = _EXTRAS.get(protocol, ("fsspec", "remote"))
        try:
            from fsspec.core import url_to_fs
        except ImportError:
            raise ImportError(
                f"storage_path {uri!r} needs {packages}: pip install 'overtone[{extra}]'"
            ) from None
        try:
            filesystem, root = url_to_fs(uri)
        except ImportError as exc:
            raise ImportError(
                f"storage_path {uri!r} needs {packages}: pip install 'overtone[{extra}]' ({exc})"
            ) from exc
        except ValueError as exc:
            raise ValueError(
                f"storage_path {uri!r} has a protocol that fsspec does not know ({exc})"
            ) from exc
    root = root.rstrip("/")
    if not root.strip("/"):
        raise ValueError(f"storage_path {uri!r} names no folder, but must name one to write in")
    return filesystem, root


def is_local_fs(fs: Any) -> bool:
    """Whether ``fs`` is fsspec's local filesystem."""
    protocol = getattr(fs, "protocol", ())
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in protocols or "local" in protocols
