"""Runs one trial of a function or class trainable inside a worker process."""

from __future__ import annotations

import inspect
import os
import tempfile
import traceback
from typing import Any

from overtone.checkpoint import Checkpoint
from overtone.runtime._session import TrialInfo, TrialStopped, _Channel, _Session, _set_session
from overtone.runtime._trainable import Trainable


def is_class_trainable(trainable: Any) -> bool:
    return inspect.isclass(trainable) and issubclass(trainable, Trainable)


def _wants_checkpoint_dir(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "checkpoint_dir" in params


def prepare_trial_dir(info: TrialInfo) -> None:
    """Make the trial's folder and the files the driver will append to (see TrialInfo)."""
    os.makedirs(info.trial_dir, exist_ok=True)
    if info.write_params:
        from overtone.storage._files import dumps

        with open(os.path.join(info.trial_dir, "params.json"), "w", encoding="utf-8") as f:
            f.write(dumps(info.config))
    for name in info.files:
        os.close(os.open(os.path.join(info.trial_dir, name), os.O_WRONLY | os.O_CREAT, 0o644))


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
        if info.reuse and obj.reset_config(info.config):
            obj.config = info.config
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
            obj.load_checkpoint(info.restore_checkpoint)
        while True:
            result = obj.step()
            if not isinstance(result, dict):
                raise TypeError(
                    f"{cls.__name__}.step() returned {result!r}, but must return a dict of metrics"
                )
            obj._iteration += 1
            checkpoint = None
            freq = info.checkpoint_frequency
            if freq and obj._iteration % freq == 0:
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
    target = os.path.join(trial_dir, f"checkpoint_{obj._iteration:06d}")
    if os.path.isdir(target):
        return  # the last iteration was checkpointed already
    tmp = _save(obj, trial_dir).path
    os.replace(tmp, target)


def _save(obj: Trainable, trial_dir: str) -> Checkpoint:
    tmp = tempfile.mkdtemp(prefix=".save-", dir=trial_dir)
    obj.save_checkpoint(tmp)
    return Checkpoint(os.path.abspath(tmp))
