"""TensorBoard event files, written directly: TFRecord framing of ``Event`` protocol buffers.

Results are the hot path, so scalar events are encoded by hand (an ``Event`` holding a
``Summary`` of ``simple_value`` entries is four protobuf fields) and written synchronously
to a buffered file; the rarer messages (HParams, histograms) are built with the protobuf
classes of tensorboardX, or of TensorBoard when only it is installed.

Each record is ``length (uint64) | masked CRC32C of length | data | masked CRC32C of data``.
CRC32C comes from ``google-crc32c`` or ``crc32c`` when one is installed, else from the
pure-Python version here (about 20 microseconds for a typical 250-byte result).
"""

from __future__ import annotations

import array
import importlib
import itertools
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

_POLY = 0x82F63B78  # CRC32C (Castagnoli), reflected
_TABLE8: list[int] = []
_TABLE16: list[int] = []
_counter = itertools.count()


def _tables() -> tuple[list[int], list[int]]:
    if not _TABLE16:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ _POLY if c & 1 else c >> 1
            _TABLE8.append(c)
        t8 = _TABLE8
        # Two bytes at a time: half the Python loop iterations of the one-byte table.
        _TABLE16.extend(t8[(t8[x & 0xFF] & 0xFF) ^ (x >> 8)] ^ (t8[x & 0xFF] >> 8)
                        for x in range(65536))  # fmt: skip
    return _TABLE8, _TABLE16


def crc32c_python(data: bytes) -> int:
    """CRC32C of ``data`` in pure Python."""
    t8, t16 = _tables()
    crc = 0xFFFFFFFF
    even = len(data) & ~1
    words = array.array("H", data[:even])
    if sys.byteorder == "big":
        words.byteswap()
    for word in words:
        crc = t16[(crc ^ word) & 0xFFFF] ^ (crc >> 16)
    if even < len(data):
        crc = t8[(crc ^ data[-1]) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _fast_crc32c() -> Callable[[bytes], int]:
    try:
        import google_crc32c

        if getattr(google_crc32c, "implementation", "") == "c":
            return google_crc32c.value  # type: ignore[no-any-return]
    except ImportError:
        pass
    try:
        from crc32c import crc32c

        return crc32c  # type: ignore[no-any-return]
    except ImportError:
        pass
    return crc32c_python


crc32c = _fast_crc32c()


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# -- hand encoding of scalar events -------------------------------------------------------
_pack_f32 = struct.Struct("<f").pack
_pack_f64 = struct.Struct("<d").pack
_pack_u32 = struct.Struct("<I").pack
_pack_u64 = struct.Struct("<Q").pack


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= 0xFFFFFFFFFFFFFFFF  # negative int64 steps are ten bytes, as protobuf encodes them
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _value_prefix(tag: str) -> bytes:
    """The bytes of ``Summary.value`` entry up to its float: field key, length, tag."""
    name = tag.encode("utf-8")
    body = b"\x0a" + _varint(len(name)) + name + b"\x15"  # tag = 1; simple_value = 2 (fixed32)
    return b"\x0a" + _varint(len(body) + 4) + body


class ScalarEncoder:
    """Encodes ``{tag: float}`` at a step as a serialized ``Event``; tag prefixes are cached."""

    def __init__(self) -> None:
        self._prefixes: dict[str, bytes] = {}

    def encode(self, step: int, values: dict[str, float], wall_time: float) -> bytes:
        prefixes = self._prefixes
        parts = []
        for tag, value in values.items():
            prefix = prefixes.get(tag)
            if prefix is None:
                prefix = prefixes[tag] = _value_prefix(tag)
            try:
                packed = _pack_f32(value)
            except OverflowError:  # beyond float32: TensorBoard shows it as infinite
                packed = _pack_f32(float("inf") if value > 0 else float("-inf"))
            parts.append(prefix + packed)
        summary = b"".join(parts)
        # wall_time = 1 (double), step = 2 (int64), summary = 5 (message)
        return (
            b"\x09" + _pack_f64(wall_time) + b"\x10" + _varint(step)
            + b"\x2a" + _varint(len(summary)) + summary
        )  # fmt: skip


class EventFile:
    """One event file, written synchronously through a buffer and flushed on demand."""

    def __init__(self, logdir: str, filename_suffix: str = "") -> None:
        os.makedirs(logdir, exist_ok=True)
        name = (
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_counter)}{filename_suffix}"
        )
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "ab")
        # The first record names the format: Event{wall_time, file_version="brain.Event:2"}
        version = b"brain.Event:2"
        self.write(b"\x09" + _pack_f64(time.time()) + b"\x1a" + _varint(len(version)) + version)

    def write(self, event: bytes) -> None:
        """Append one serialized ``Event``."""
        header = _pack_u64(len(event))
        self._file.write(
            header + _pack_u32(masked_crc32c(header)) + event + _pack_u32(masked_crc32c(event))
        )

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


# -- protobuf classes for the rest ----------------------------------------------------------
_BACKENDS = {
    "tensorboardX": {
        "event": "tensorboardX.proto.event_pb2",
        "summary": "tensorboardX.proto.summary_pb2",
        "tensor": "tensorboardX.proto.tensor_pb2",
        "shape": "tensorboardX.proto.tensor_shape_pb2",
        "types": "tensorboardX.proto.types_pb2",
        "plugin": "tensorboardX.proto.plugin_hparams_pb2",
        "api": "tensorboardX.proto.api_pb2",
    },
    "tensorboard": {
        "event": "tensorboard.compat.proto.event_pb2",
        "summary": "tensorboard.compat.proto.summary_pb2",
        "tensor": "tensorboard.compat.proto.tensor_pb2",
        "shape": "tensorboard.compat.proto.tensor_shape_pb2",
        "types": "tensorboard.compat.proto.types_pb2",
        "plugin": "tensorboard.plugins.hparams.plugin_data_pb2",
        "api": "tensorboard.plugins.hparams.api_pb2",
    },
}


def backend_available() -> str | None:
    """The first of tensorboardX and TensorBoard that is installed, without importing it."""
    from importlib.util import find_spec

    for name in _BACKENDS:
        try:
            if find_spec(name) is not None:
                return name
        except (ImportError, ValueError):
            continue
    return None


def load_protos(backend: str | None = None) -> SimpleNamespace:
    """The protobuf classes of ``backend`` (default: tensorboardX, else TensorBoard)."""
    names = [backend] if backend is not None else list(_BACKENDS)
    failure: Exception | None = None
    for name in names:
        if name not in _BACKENDS:
            raise ValueError(f"backend is {name!r}, but must be one of {sorted(_BACKENDS)}")
        try:
            mods = {key: importlib.import_module(path) for key, path in _BACKENDS[name].items()}
        except ImportError as exc:
            failure = exc
            continue
        return _namespace(name, mods)
    raise ImportError(
        "TBXLoggerCallback needs tensorboardX or tensorboard: "
        "pip install 'overtone[tensorboard]'"
    ) from failure


def _namespace(name: str, mods: dict[str, Any]) -> SimpleNamespace:
    summary, api, plugin = mods["summary"], mods["api"], mods["plugin"]
    return SimpleNamespace(
        backend=name,
        Event=mods["event"].Event,
        Summary=summary.Summary,
        SummaryMetadata=summary.SummaryMetadata,
        HistogramProto=summary.HistogramProto,
        TensorProto=mods["tensor"].TensorProto,
        TensorShapeProto=mods["shape"].TensorShapeProto,
        DT_FLOAT=mods["types"].DT_FLOAT,
        HParamsPluginData=plugin.HParamsPluginData,
        SessionStartInfo=plugin.SessionStartInfo,
        SessionEndInfo=plugin.SessionEndInfo,
        Experiment=api.Experiment,
        HParamInfo=api.HParamInfo,
        MetricInfo=api.MetricInfo,
        MetricName=api.MetricName,
        DataType=api.DataType,
        Status=api.Status,
    )
