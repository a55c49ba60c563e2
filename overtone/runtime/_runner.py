"""Runs one trial of a function or class trainable inside a worker process."""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable
from typing import Any

from overtone.checkpoint import Checkpoint
from overtone.runtime._session import TrialInfo, TrialStopped, _Channel, _Session, _set_session
from overtone.runtime._trainable import Trainable, read_checkpoint, write_checkpoint
from overtone.storage._files import dumps, write_all
from overtone.storage._layout import (
    EVENTS_PREFIX,
    PARAMS_FILE,
    SAVE_PREFIX,
    SPARE_EVENTS_PLACEHOLDER,
    SPARE_PREFIX,
    checkpoint_name,
)


def is_class_trainable(trainable: Any) -> bool:
    return inspect.isclass(trainable) and issubclass(trainable, Trainable)


def _wants_checkpoint_dir(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "checkpoint_dir" in params


_PLACEHOLDER = SPARE_EVENTS_PLACEHOLDER
_CREATE = os.O_WRONLY | os.O_CREAT


class TrialDirs:
    """Makes the folders of the trials that one worker process runs.

    Creating a file or folder is what costs (up to 0.75 ms of system time each on some
    disks); renaming one is cheap. So, with ``TrialInfo.spare_dirs``, once a trial ends the
    worker makes a *spare*: a hidden folder ``.spare-<pid>`` in the experiment's folder with
    the same empty files, made while the driver chooses the next trial. The next trial's
    folder is then that spare, renamed. :meth:`drop_spare` removes a spare not used.
    """

    def __init__(self) -> None:
        self._spare: str | None = None

    def prepare(self, info: TrialInfo) -> None:
        spare = self._spare
        used = False
        if spare is not None and os.path.dirname(spare) != info.experiment_path:
            self.drop_spare()  # another experiment's
        elif spare is not None and not os.path.lexists(info.trial_dir):
            self._spare = None  # (a restarted trial has its folder: the spare waits)
            try:
                os.rename(spare, info.trial_dir)
                used = True
            except OSError:
                _remove(spare)
        if not used:
            os.makedirs(info.trial_dir, exist_ok=True)
        if info.write_params:
            # A spare's params.json is empty: appending spares ext4 a truncation.
            flags = _CREATE | (os.O_APPEND if used else os.O_TRUNC)
            fd = os.open(os.path.join(info.trial_dir, PARAMS_FILE), flags, 0o644)
            try:
                write_all(fd, dumps(info.config).encode("utf-8"))
            finally:
                os.close(fd)
        placeholder = os.path.join(info.trial_dir, _PLACEHOLDER)
        for name in info.files:
            path = os.path.join(info.trial_dir, name)
            if used and name.startswith(EVENTS_PREFIX) and os.path.exists(placeholder):
                os.rename(placeholder, path)
            else:
                os.close(os.open(path, _CREATE, 0o644))
        if used and os.path.exists(placeholder):
            os.unlink(placeholder)

    def make_spare(self, info: TrialInfo, interrupted: Callable[[], bool]) -> None:
        """Make a spare folder for the next trial like ``info``'s, unless one is waiting or
        ``interrupted()`` says the next trial is already here (then stop early: a partial
        spare is completed when it is used)."""
        if not info.spare_dirs or self._spare is not None or interrupted():
            return
        path = os.path.join(info.experiment_path, f"{SPARE_PREFIX}{os.getpid()}")
        names = [PARAMS_FILE] if info.write_params else []
        names += [_PLACEHOLDER if n.startswith(EVENTS_PREFIX) else n for n in info.files]
        try:
            os.makedirs(path, exist_ok=True)
            self._spare = path
            for name in names:
                if interrupted():
                    return
                os.close(os.open(os.path.join(path, name), _CREATE, 0o644))
        except OSError:
            self.drop_spare()

    def drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            _remove(spare)


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_spare_dirs(experiment_path: str) -> None:
    """Remove the spare folders that workers killed in an earlier run left behind."""
    try:
        names = os.listdir(experiment_path)
    except OSError:
        return
    for name in names:
        if name.startswith(SPARE_PREFIX):
            _remove(os.path.join(experiment_path, name))


def run_trial(trainable: Any, info: TrialInfo, channel: _Channel) -> str | None:
    """Run the trial to its end. Returns None on success, else the failure's traceback text."""
    session = _Session(info, channel)
    _set_session(session)
    try:
        if is_class_trainable(trainable):
            _run_class(trainable, info, session)
        else:
            _run_function(trainable, info, session)
    except TrialStopped:
        pass
    except BaseException:  # noqa: BLE001 - any failure of user code ends only this trial
        return traceback.format_exc()
    finally:
        _set_session(None)
    return None


def _run_function(fn: Any, info: TrialInfo, session: _Session) -> None:
    if _wants_checkpoint_dir(fn):
        returned = fn(info.config, checkpoint_dir=info.restore_checkpoint)
    else:
        returned = fn(info.config)
    if isinstance(returned, dict) and returned:
        session.report(returned)


# A class trainable kept by this worker for the next trial of the same class, when its
# ``reset_config`` accepts the new config (``reuse_actors``): setup is not paid again.
_kept: dict[type, Trainable] = {}


def _resettable(obj: Trainable) -> bool:
    return type(obj).reset_config is not Trainable.reset_config


def _obtain(cls: type[Trainable], info: TrialInfo) -> Trainable:
    obj = _kept.pop(cls, None)
    if obj is not None:
        if info.reuse and obj.reset(info.config):
            obj._info = info
            return obj
        obj.stop()
    return cls(info.config)


def release_kept() -> None:
    """Clean up kept trainables (the worker is exiting)."""
    while _kept:
        _kept.popitem()[1].stop()


def _run_class(cls: type[Trainable], info: TrialInfo, session: _Session) -> None:
    obj = _obtain(cls, info)
    keep = paused = False
    try:
        obj._iteration = info.start_iteration
        if info.restore_checkpoint:
            obj.load_checkpoint(read_checkpoint(info.restore_checkpoint))
        while True:
            result = obj.step()
            if not isinstance(result, dict):
                raise TypeError(
                    f"{cls.__name__}.step() returned {result!r}, but must return a dict of metrics"
                )
            obj._iteration += 1
            checkpoint = None
            freq = info.checkpoint_frequency
            if (freq and obj._iteration % freq == 0) or result.get("should_checkpoint"):
                checkpoint = _save(obj, info.trial_dir)
            session.report(result, checkpoint)
            if result.get("done"):
                break
        keep = True
    except TrialStopped as stop:
        keep = True
        paused = stop.args[0] == "PAUSE"
        raise
    finally:
        if keep and (info.checkpoint_at_end or paused) and obj._iteration > 0:
            _save_final(obj, info.trial_dir)
        if keep and info.reuse and _resettable(obj):
            _kept[cls] = obj
        else:
            obj.stop()


def _save_final(obj: Trainable, trial_dir: str) -> None:
    """The checkpoint at the end, named for the last iteration; the driver finds it there."""
    target = os.path.join(trial_dir, checkpoint_name(obj._iteration))
    if os.path.isdir(target):
        return  # the last iteration was checkpointed already
    tmp = _save(obj, trial_dir).path
    os.replace(tmp, target)


def _save(obj: Trainable, trial_dir: str) -> Checkpoint:
    tmp = tempfile.mkdtemp(prefix=SAVE_PREFIX, dir=trial_dir)
    write_checkpoint(obj, tmp)
    return Checkpoint(os.path.abspath(tmp))
