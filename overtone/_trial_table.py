"""The controller's trials: the live ones as :class:`Trial` objects, the finished ones spilled.

A finished trial changes no more, yet an experiment of 100,000 trials would keep 100,000
``Trial`` objects (about 1.5 KiB each with their last result, config and paths) until its
end. :class:`TrialTable` keeps, per finished trial, only its id and where its state entry
(``Trial.to_state()``, as JSON) lies in an anonymous spill file in the experiment folder; the
entry is read back, and a detached ``Trial`` or ``FrozenTrial`` built from it, whenever a
callback, the progress output or a whole save of the state asks for it.
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

from overtone._trial import FrozenTrial
from overtone._trial_state import Trial
from overtone.storage._files import dumps

#: Bytes of spilled entries held in memory before they are written to the spill file.
_BUFFER_BYTES = 256 * 1024


class RawEntry(str):
    """A trial's state entry already encoded as JSON (written to a state file as it is)."""

    __slots__ = ()


class _Spill:
    """Append-only JSON lines in an unlinked temporary file, read back by index."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._file: Any = None
        self._closer: weakref.finalize | None = None
        self._starts = array("q")  # where each entry starts, in the file and buffer together
        self._written = 0  # bytes in the file
        self._buffer = bytearray()  # bytes after those in the file

    def append(self, data: bytes) -> int:
        self._starts.append(self._written + len(self._buffer))
        self._buffer += data
        if len(self._buffer) >= _BUFFER_BYTES:
            self._flush()
        return len(self._starts) - 1

    def read(self, index: int) -> bytes:
        start = self._starts[index]
        end = (
            self._starts[index + 1]
            if index + 1 < len(self._starts)
            else self._written + len(self._buffer)
        )
        if start >= self._written:
            return bytes(self._buffer[start - self._written : end - self._written])
        self._flush()
        return os.pread(self._file.fileno(), end - start, start)

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self._file is None:
            os.makedirs(self._directory, exist_ok=True)
            self._file = tempfile.TemporaryFile(dir=self._directory, prefix=".overtone-spill-")
            # Closed with the table even when nobody calls close() (a controller in a test).
            self._closer = weakref.finalize(self, self._file.close)
        self._file.seek(self._written)
        self._file.write(self._buffer)
        self._file.flush()
        self._written += len(self._buffer)
        self._buffer = bytearray()

    def close(self) -> None:
        """Drop the spill: the retired entries cannot be read after this."""
        if self._closer is not None:
            self._closer()
        self._file = self._closer = None
        self._starts = array("q")
        self._buffer = bytearray()
        self._written = 0


class TrialTable(Mapping[str, Trial]):
    """Every trial of an experiment by id, in creation order.

    Live trials (pending, running, paused) are the controller's own ``Trial`` objects;
    a finished trial, once :meth:`retire` d, is read back on each access as a new, detached
    ``Trial`` (changing it changes nothing).
    """

    def __init__(self, experiment_path: str) -> None:
        self._experiment_path = experiment_path
        self._order: list[str] = []
        self._live: dict[str, Trial] = {}
        self._retired: dict[str, int] = {}  # trial id -> its index in the spill
        self._spill = _Spill(experiment_path)

    # -- changes ---------------------------------------------------------------------------
    def add(self, trial: Trial) -> None:
        """A new trial (or one restored), live until :meth:`retire`."""
        if trial.trial_id not in self._live and trial.trial_id not in self._retired:
            self._order.append(trial.trial_id)
        self._retired.pop(trial.trial_id, None)
        self._live[trial.trial_id] = trial

    def retire(self, trial: Trial) -> None:
        """``trial`` has finished: keep its state entry on disk, not the object."""
        if self._live.pop(trial.trial_id, None) is None:
            return
        entry = dumps(trial.to_state())
        self._retired[trial.trial_id] = self._spill.append(entry.encode("utf-8") + b"\n")

    def close(self) -> None:
        self._spill.close()

    # -- reading ---------------------------------------------------------------------------
    def live(self) -> list[Trial]:
        """The trials not retired, in creation order."""
        return list(self._live.values())

    def _entry_text(self, trial_id: str) -> str:
        return self._spill.read(self._retired[trial_id]).decode("utf-8").rstrip("\n")

    def __getitem__(self, trial_id: str) -> Trial:
        trial = self._live.get(trial_id)
        if trial is not None:
            return trial
        if trial_id not in self._retired:
            raise KeyError(trial_id)
        return Trial.from_state(json.loads(self._entry_text(trial_id)), self._experiment_path)

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._live or trial_id in self._retired

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def id_at(self, index: int) -> str:
        return self._order[index]

    def snapshot_at(self, index: int) -> FrozenTrial:
        """The snapshot of the ``index``-th trial (in creation order)."""
        return self[self._order[index]].snapshot()

    def entries(self) -> Iterator[dict[str, Any] | RawEntry]:
        """Every trial's state entry, in order: a dict for a live trial, the JSON text of a
        retired one."""
        for trial_id in self._order:
            trial = self._live.get(trial_id)
            if trial is not None:
                yield trial.to_state()
            else:
                yield RawEntry(self._entry_text(trial_id))
