"""TensorBoard event files, written directly: TFRecord framing of ``Event`` protocol buffers.

The few protobuf messages needed (an ``Event`` holding a ``Summary`` of scalars, histograms
or HParams plugin data) are encoded here by hand, so writing needs neither tensorboardX nor
TensorBoard to be imported: importing either costs a tenth of a second or more (tensorboardX
also imports boto3 when it is installed). Scalar events, the hot path, cache each tag's
encoded prefix. Records are written synchronously to a buffered file.

Each record is ``length (uint64) | masked CRC32C of length | data | masked CRC32C of data``.
CRC32C comes from ``google-crc32c`` or ``crc32c`` when one is installed, else from the
pure-Python version here (about 10 microseconds for a typical 200-byte result).
"""

from __future__ import annotations

import array
import functools
import itertools
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from overtone.storage._files import write_all
from overtone.storage._layout import EVENTS_PREFIX

_POLY = 0x82F63B78  # CRC32C (Castagnoli), reflected
_TABLE8: list[int] = []  # one byte at a time
_LOW16: list[int] = []  # four bytes at a time: the low and the high half of the word
_HIGH16: list[int] = []
_counter = itertools.count()
_WORD = next((code for code in "IL" if array.array(code).itemsize == 4), "")  # 32-bit words


def _tables() -> tuple[list[int], list[int], list[int]]:
    if not _LOW16:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ _POLY if c & 1 else c >> 1
            _TABLE8.append(c)
        t8 = _TABLE8

        def shift_word(x: int) -> int:  # the register after four zero bytes
            for _ in range(4):
                x = t8[x & 0xFF] ^ (x >> 8)
            return x

        # The map is linear, so a 16-bit table is the XOR of two 8-bit ones.
        b0, b1, b2, b3 = ([shift_word(b << (8 * k)) for b in range(256)] for k in range(4))
        _LOW16.extend(b0[i & 0xFF] ^ b1[i >> 8] for i in range(65536))
        _HIGH16.extend(b2[i & 0xFF] ^ b3[i >> 8] for i in range(65536))
    return _TABLE8, _LOW16, _HIGH16


def crc32c_python(data: bytes) -> int:
    """CRC32C of ``data`` in pure Python, a 32-bit word per step."""
    t8, low, high = _tables()
    crc = 0xFFFFFFFF
    whole = len(data) & ~3 if _WORD else 0
    words = array.array(_WORD or "B", data[:whole])
    if sys.byteorder == "big":
        words.byteswap()
    for word in words:
        x = crc ^ word
        crc = low[x & 0xFFFF] ^ high[x >> 16]
    for byte in data[whole:]:
        crc = t8[(crc ^ byte) & 0xFF] ^ (crc >> 8)
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


_SMALL_VARINTS = [bytes((i,)) for i in range(128)]


def _varint(n: int) -> bytes:
    if 0 <= n < 128:  # field keys and most lengths: one byte
        return _SMALL_VARINTS[n]
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


_HEADERS: dict[int, bytes] = {}  # record length -> its framing (length, masked CRC)


@functools.lru_cache(maxsize=1)
def _hostname() -> str:
    return socket.gethostname()


def event_file_name(suffix: str = "") -> str:
    """A new event file's name: TensorBoard reads the files of a folder in name order."""
    return (
        f"{EVENTS_PREFIX}{int(time.time()):010d}.{_hostname()}."
        f"{os.getpid()}.{next(_counter)}{suffix}"
    )


class EventFile:
    """One event file. Records are collected in memory and written by :meth:`flush` (and
    :meth:`close`) in one ``write`` straight to the OS."""

    def __init__(self, logdir: str, filename_suffix: str = "", name: str | None = None) -> None:
        self.path = os.path.join(logdir, name or event_file_name(filename_suffix))
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            self._fd: int | None = os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            os.makedirs(logdir, exist_ok=True)
            self._fd = os.open(self.path, flags, 0o644)
        self._pending = bytearray()
        # The first record names the format: Event{wall_time, file_version="brain.Event:2"}
        version = b"brain.Event:2"
        self.write(b"\x09" + _pack_f64(time.time()) + b"\x1a" + _varint(len(version)) + version)

    def write(self, event: bytes) -> None:
        """Append one serialized ``Event`` (to the file at the next :meth:`flush`)."""
        size = len(event)
        header = _HEADERS.get(size)
        if header is None:  # results have few distinct sizes: their headers are cached
            if len(_HEADERS) > 4096:
                _HEADERS.clear()
            length = _pack_u64(size)
            header = _HEADERS[size] = length + _pack_u32(masked_crc32c(length))
        self._pending += header
        self._pending += event
        self._pending += _pack_u32(masked_crc32c(event))

    def flush(self) -> None:
        if self._fd is None or not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        write_all(self._fd, data)

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = None


# -- the other messages: HParams plugin data and histograms ---------------------------------
# Field numbers from TensorBoard's event.proto, summary.proto, tensor.proto, hparams/api.proto
# and hparams/plugin_data.proto; google.protobuf.Value for the hparams' values.
DATA_TYPE = {"string": 1, "bool": 2, "float64": 3}
STATUS = {"unknown": 0, "success": 1, "failure": 2, "running": 3}
HPARAMS_PLUGIN = b"hparams"
_DT_FLOAT = 1
# An empty float tensor, as TensorBoard's own HParams summaries carry: dtype, shape [0].
_EMPTY_TENSOR = b"\x08" + _varint(_DT_FLOAT) + b"\x12\x04\x12\x02\x08\x00"


def _field(number: int, data: bytes) -> bytes:
    """A length-delimited field (a string, bytes or a message)."""
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + _pack_f64(value)


def _enum(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _proto_value(value: bool | float | str) -> bytes:
    """A ``google.protobuf.Value``."""
    if isinstance(value, bool):
        return _enum(4, int(value))
    if isinstance(value, float):
        return _double(2, value)
    return _field(3, value.encode("utf-8"))


def hparams_session_start(hparams: dict[str, bool | float | str], start_time: float) -> bytes:
    """``HParamsPluginData{session_start_info}``: the trial's hyperparameters."""
    info = b"".join(
        _field(1, _field(1, key.encode("utf-8")) + _field(2, _proto_value(value)))
        for key, value in hparams.items()
    )
    return _field(3, info + _double(5, start_time))


def hparams_experiment(
    hparam_types: dict[str, str], metric_tags: list[str], time_created: float
) -> bytes:
    """``HParamsPluginData{experiment}``: the hparams' names and types, the metrics' tags."""
    key = (tuple(hparam_types.items()), tuple(metric_tags))
    infos = _EXPERIMENT_INFOS.get(key)
    if infos is None:  # every trial of an experiment usually has the same ones
        if len(_EXPERIMENT_INFOS) > 256:
            _EXPERIMENT_INFOS.clear()
        infos = _EXPERIMENT_INFOS[key] = b"".join(
            [_field(4, _field(1, name.encode("utf-8")) + _enum(4, DATA_TYPE[kind]))
             for name, kind in hparam_types.items()]
            + [_field(5, _field(1, _field(2, tag.encode("utf-8")))) for tag in metric_tags]
        )  # fmt: skip
    return _field(2, _double(3, time_created) + infos)


_EXPERIMENT_INFOS: dict[tuple[Any, ...], bytes] = {}


def hparams_session_end(status: str, end_time: float) -> bytes:
    """``HParamsPluginData{session_end_info}``: how the trial ended."""
    return _field(4, _enum(1, STATUS[status]) + _double(2, end_time))


def plugin_value(tag: str, plugin: bytes, content: bytes) -> bytes:
    """A ``Summary.Value`` carrying plugin data (and an empty tensor)."""
    metadata = _field(1, _field(1, plugin) + _field(2, content))
    return _field(1, tag.encode("utf-8")) + _field(9, metadata) + _field(8, _EMPTY_TENSOR)


def histogram_value(
    tag: str, stats: tuple[float, float, float, float, float], limits: list[float],
    counts: list[float],
) -> bytes:  # fmt: skip
    """A ``Summary.Value`` with a ``HistogramProto``: (min, max, num, sum, sum of squares),
    the buckets' right edges and their counts."""
    body = b"".join(_double(i + 1, value) for i, value in enumerate(stats))
    body += _field(6, struct.pack(f"<{len(limits)}d", *limits))
    body += _field(7, struct.pack(f"<{len(counts)}d", *counts))
    return _field(1, tag.encode("utf-8")) + _field(5, body)


def event(step: int, wall_time: float, values: list[bytes]) -> bytes:
    """An ``Event`` at ``step`` whose ``Summary`` holds the encoded ``values``."""
    summary = b"".join(_field(1, value) for value in values)
    return _double(1, wall_time) + _enum(2, step) + _field(5, summary)


def backend_available() -> str | None:
    """The first of tensorboardX and TensorBoard that is installed, without importing it."""
    from importlib.util import find_spec

    for name in ("tensorboardX", "tensorboard"):
        try:
            if find_spec(name) is not None:
                return name
        except (ImportError, ValueError):
            continue
    return None
