"""The controller's trials: the live ones as :class:`Trial` objects, the finished ones spilled.

A finished trial changes no more, yet an experiment of 100,000 trials would keep 100,000
``Trial`` objects (about 1.5 KiB each with their last result, config and paths) until its
end. :class:`TrialTable` keeps, per finished trial, only where its state entry
(``Trial.to_state()``, as JSON) lies in an anonymous spill file in the experiment folder (8
bytes); the entry is read back, and a detached ``Trial`` or ``FrozenTrial`` built from it,
whenever a callback, the progress output or a whole save of the state asks for it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import weakref
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

from overtone._trial import FrozenTrial, Resources
from overtone._trial_state import Trial
from overtone.storage._files import dumps

#: The spill file's write buffer.
_BUFFER_BYTES = 64 * 1024


class _Int64s:
    """A growing list of integers in fixed-size chunks: no block that grows by reallocation
    (each realloc of a long array leaves a hole in the heap, which keeps the RSS up)."""

    _CHUNK = 8192

    def __init__(self) -> None:
        self._chunks: list[array[int]] = []
        self._len = 0

    def append(self, value: int) -> None:
        if self._len % self._CHUNK == 0:
            self._chunks.append(array("q", [0]) * self._CHUNK)
        self._chunks[-1][self._len % self._CHUNK] = value
        self._len += 1

    def _at(self, index: int) -> int:
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(index)
        return index

    def __getitem__(self, index: int) -> int:
        index = self._at(index)
        return self._chunks[index // self._CHUNK][index % self._CHUNK]

    def __setitem__(self, index: int, value: int) -> None:
        index = self._at(index)
        self._chunks[index // self._CHUNK][index % self._CHUNK] = value

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        return (self[i] for i in range(self._len))


def _shared(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with the keys of its config and last result (and the short strings of the
    latter) interned: a progress report over 100,000 read-back trials then holds one copy of
    each key, not 100,000 (``json.loads`` shares keys only within one document)."""
    for name in ("config", "last_result"):
        value = entry.get(name)
        if isinstance(value, dict):
            entry[name] = {
                sys.intern(k): (sys.intern(v) if type(v) is str and len(v) < 64 else v)
                for k, v in value.items()
            }
    return entry


class RawEntry(str):
    """A trial's state entry already encoded as JSON (written to a state file as it is)."""

    __slots__ = ()


class _Spill:
    """Append-only JSON lines in an unlinked temporary file, read back by index.

    Writes go through the file's own fixed buffer (no growing buffer of ours: large
    short-lived allocations fragment the driver's heap, which then never shrinks).
    """

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._file: Any = None
        self._closer: weakref.finalize | None = None
        self._starts = _Int64s()  # where each entry starts
        self._size = 0  # bytes appended
        self._unflushed = False

    def append(self, data: bytes) -> int:
        if self._file is None:
            os.makedirs(self._directory, exist_ok=True)
            self._file = tempfile.TemporaryFile(
                dir=self._directory, prefix=".overtone-spill-", buffering=_BUFFER_BYTES
            )
            # Closed with the table even when nobody calls close() (a controller in a test).
            self._closer = weakref.finalize(self, self._file.close)
        self._starts.append(self._size)
        self._file.write(data)
        self._size += len(data)
        self._unflushed = True
        return len(self._starts) - 1

    def read(self, index: int) -> bytes:
        start = self._starts[index]
        end = self._starts[index + 1] if index + 1 < len(self._starts) else self._size
        if self._unflushed:
            self._file.flush()
            self._unflushed = False
        if hasattr(os, "pread"):
            return os.pread(self._file.fileno(), end - start, start)
        self._file.seek(start)  # no pread (Windows): appends go on at the end regardless
        data = self._file.read(end - start)
        self._file.seek(0, os.SEEK_END)
        return data

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
        self._file = self._closer = None
        self._starts = _Int64s()
        self._size = 0


class TrialTable(Mapping[str, Trial]):
    """Every trial of an experiment by id, in creation order.

    Live trials (pending, running, paused) are the controller's own ``Trial`` objects; a
    finished trial, once :meth:`retire` d, is read back on each access as a new, detached
    ``Trial`` (changing it changes nothing). A retired trial costs 8 bytes here (where its
    entry lies in the spill): not even its id is kept, so finding one by id reads the spill
    (the controller itself only looks up live trials by id; tests and tools may do more).
    """

    def __init__(self, experiment_path: str) -> None:
        self._experiment_path = experiment_path
        self._slots = _Int64s()  # per trial, in order: its spill index, or -1 while live
        self._live: dict[str, Trial] = {}
        self._live_at: dict[int, Trial] = {}  # the live trials by position
        self._position: dict[str, int] = {}  # the live trials' positions
        self._spill = _Spill(experiment_path)
        self._resources: dict[Any, Resources] = {}  # one object per distinct resources

    # -- changes ---------------------------------------------------------------------------
    def add(self, trial: Trial) -> None:
        """A new trial (or one restored), live until :meth:`retire`."""
        if trial.trial_id in self._live:
            raise ValueError(f"trial id {trial.trial_id!r} is in the table already")
        position = len(self._slots)
        self._slots.append(-1)
        self._live[trial.trial_id] = self._live_at[position] = trial
        self._position[trial.trial_id] = position

    def retire(self, trial: Trial) -> int:
        """``trial`` has finished: keep its state entry on disk, not the object. Returns where
        the entry lies, for :meth:`entry`."""
        position = self._position.pop(trial.trial_id)
        del self._live[trial.trial_id], self._live_at[position]
        index = self._spill.append(dumps(trial.to_state()).encode("utf-8") + b"\n")
        self._slots[position] = index
        return index

    def entry(self, index: int) -> RawEntry:
        """The JSON of the retired trial whose entry :meth:`retire` put at ``index``."""
        return RawEntry(self._text(index))

    def close(self) -> None:
        """Drop the spill: retired trials cannot be read after this."""
        self._spill.close()

    # -- reading ---------------------------------------------------------------------------
    def live(self) -> list[Trial]:
        """The trials not retired, in creation order."""
        return [self._live_at[p] for p in sorted(self._live_at)]

    def _text(self, index: int) -> str:
        return self._spill.read(index).decode("utf-8").rstrip("\n")

    def _retired_trial(self, index: int) -> Trial:
        entry = _shared(json.loads(self._text(index)))
        trial = Trial.from_state(entry, self._experiment_path)
        key = tuple(sorted((entry.get("resources") or {}).items()))
        trial.resources = self._resources.setdefault(key, trial.resources)
        return trial

    def at(self, position: int) -> Trial:
        """The ``position``-th trial, in creation order."""
        index = self._slots[position]
        if index < 0:
            return self._live_at[position % len(self._slots)]
        return self._retired_trial(index)

    def snapshot_at(self, position: int) -> FrozenTrial:
        """The snapshot of the ``position``-th trial, in creation order."""
        return self.at(position).snapshot()

    def __getitem__(self, trial_id: str) -> Trial:
        trial = self._live.get(trial_id)
        if trial is not None:
            return trial
        for index in self._slots:  # a retired trial: read the entries until it is found
            if index >= 0:
                entry = json.loads(self._text(index))
                if entry["trial_id"] == trial_id:
                    return Trial.from_state(entry, self._experiment_path)
        raise KeyError(trial_id)

    def __len__(self) -> int:
        return len(self._slots)

    def __iter__(self) -> Iterator[str]:
        for position in range(len(self._slots)):
            index = self._slots[position]
            if index < 0:
                yield self._live_at[position].trial_id
            else:
                yield json.loads(self._text(index))["trial_id"]

    def values(self) -> Iterator[Trial]:  # type: ignore[override]
        """Every trial, in creation order (the retired ones read back one at a time)."""
        return (self.at(p) for p in range(len(self._slots)))

    def items(self) -> Iterator[tuple[str, Trial]]:  # type: ignore[override]
        return ((t.trial_id, t) for t in self.values())

    def entries(self) -> Iterator[dict[str, Any] | RawEntry]:
        """Every trial's state entry, in order: a dict for a live trial, the JSON text of a
        retired one."""
        for position in range(len(self._slots)):
            index = self._slots[position]
            if index < 0:
                yield self._live_at[position].to_state()
            else:
                yield RawEntry(self._text(index))
