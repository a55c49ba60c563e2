"""The trial session: what ``tune.report`` and ``tune.get_context`` talk to inside a worker."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from overtone.checkpoint import Checkpoint
from overtone.storage._files import result_problem
from overtone.storage._layout import SAVE_PREFIX, checkpoint_name

_HOSTNAME = socket.gethostname()


class TrialStopped(BaseException):
    """Raised inside a trial's code by ``report`` when the driver decided to stop it.

    A ``BaseException`` so that ``except Exception`` in user code does not swallow it.
    """


class _Channel(Protocol):
    def report(
        self, result: dict[str, Any], checkpoint_dirname: str | None, wait: bool
    ) -> str: ...


@dataclass
class TrialInfo:
    """What a worker is told about the trial it runs."""

    trial_id: str
    trial_name: str
    trial_dir: str
    experiment_name: str
    experiment_path: str
    config: dict[str, Any]
    resources: dict[str, float] = field(default_factory=dict)
    restore_checkpoint: str | None = None
    start_iteration: int = 0
    start_time_total: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    checkpoint_frequency: int = 0
    log_files: tuple[str, str] | None = None  # where the trial's stdout and stderr go
    reuse: bool = False  # a class trainable may be kept for the next trial (reset_config)
    # Whether report() waits for the driver's decision. Without schedulers or stoppers the
    # only possible decision is to go on, so the trial streams its results without waiting.
    sync: bool = True
    checkpoint_at_end: bool = False
    # The worker makes the trial's folder, writes ``params.json`` (when set) and creates these
    # empty files in it before the trainable runs, so that the driver, which appends to them,
    # never pays for creating a file: on some disks that costs a millisecond of system time.
    write_params: bool = False
    files: tuple[str, ...] = ()
    # The worker may make the next trial's folder ahead (nobody else makes this one).
    spare_dirs: bool = False
    # Set where the config arrived but could not be unpickled (then ``config`` is empty).
    config_error: str | None = field(default=None, compare=False, repr=False)

    # Pickling (the local executor's messages, Dask's task arguments) carries the config
    # with cloudpickle, as the trainable is: lambdas and functions defined in ``__main__``
    # travel by value. A config that cannot be sent raises ConfigNotSendableError naming
    # its key; one that cannot be loaded on the other side fails there with its cause.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["config"] = pack_config(self.config)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import cloudpickle

        blob = state["config"]
        try:
            state["config"] = cloudpickle.loads(blob) if isinstance(blob, bytes) else blob
        except Exception:  # noqa: BLE001 - reported as the trial's failure, in the worker
            state["config"] = {}
            state["config_error"] = (
                "The trial's config could not be loaded in the process that runs it (is "
                "every module it needs installed there?):\n" + traceback.format_exc()
            )
        self.__dict__.update(state)


class ConfigNotSendableError(TypeError):
    """A trial's config holds a value that cannot be pickled to send it to a worker."""


def pack_config(config: dict[str, Any]) -> bytes:
    """``config`` pickled with cloudpickle; raises :class:`ConfigNotSendableError` naming the
    first key whose value cannot be."""
    import cloudpickle

    try:
        return cloudpickle.dumps(config)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same
        where, value, cause = _unpicklable("config", config, exc)
        what = (
            "an open file object"
            if isinstance(value, io.IOBase)
            else (f"a {type(value).__module__}.{type(value).__qualname__} object")
        )
        raise ConfigNotSendableError(
            f"{where} is {what} ({value!r:.200}), which cannot be sent to a worker process "
            f"({type(cause).__name__}: {cause}); create it inside the trainable instead, "
            "e.g. from a path or a setting in the config"
        ) from exc


def _unpicklable(where: str, value: Any, exc: BaseException) -> tuple[str, Any, BaseException]:
    """The innermost key (or index) of ``value`` whose value cannot be pickled."""
    import cloudpickle

    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return where, value, exc
    for key, item in items:
        try:
            cloudpickle.dumps(item)
        except Exception as inner:  # noqa: BLE001
            return _unpicklable(f"{where}[{key!r}]", item, inner)
    return where, value, exc


class TuneContext:
    """Facts about the running trial, from ``tune.get_context()``."""

    def __init__(self, session: _Session | None) -> None:
        self._session = session

    def _info(self) -> TrialInfo:
        if self._session is None:
            raise RuntimeError("tune.get_context() has no trial: it is called outside a trial")
        return self._session.info

    def get_trial_id(self) -> str:
        return self._info().trial_id

    def get_trial_name(self) -> str:
        return self._info().trial_name

    def get_trial_dir(self) -> str:
        return self._info().trial_dir

    def get_experiment_name(self) -> str:
        return self._info().experiment_name

    def get_trial_resources(self) -> dict[str, float]:
        return dict(self._info().resources)

    def get_iteration(self) -> int:
        """The number of results this trial has reported so far (its ``training_iteration``)."""
        if self._session is None:
            raise RuntimeError("tune.get_context() has no trial: it is called outside a trial")
        return self._session.iteration

    def get_world_rank(self) -> int:
        return 0

    def get_world_size(self) -> int:
        return 1

    def get_local_rank(self) -> int:
        return 0

    trial_id = property(get_trial_id)
    trial_name = property(get_trial_name)
    trial_dir = property(get_trial_dir)
    iteration = property(get_iteration)


class _Session:
    def __init__(self, info: TrialInfo, channel: _Channel) -> None:
        self.info = info
        self.channel = channel
        self.iteration = info.start_iteration
        self.iterations_since_restore = 0
        self.start = time.time()
        self.last_report = self.start
        self.loaded_checkpoint = (
            Checkpoint(info.restore_checkpoint) if info.restore_checkpoint else None
        )
        self.pending_checkpoint: Checkpoint | None = None  # from tune.checkpoint_dir()

    def report(self, metrics: dict[str, Any], checkpoint: Checkpoint | None = None) -> None:
        problem = result_problem(metrics)
        if problem is not None:  # here, raised in the user's code, not later in the driver
            raise ValueError(f"a trial reported a result that cannot be recorded: {problem}")
        if checkpoint is None and self.pending_checkpoint is not None:
            checkpoint, self.pending_checkpoint = self.pending_checkpoint, None
        now = time.time()
        self.iteration += 1
        self.iterations_since_restore += 1
        result = dict(metrics)
        since_restore = now - self.start
        result.setdefault("done", False)
        result["training_iteration"] = self.iteration
        result["trial_id"] = self.info.trial_id
        result["time_this_iter_s"] = now - self.last_report
        result["time_total_s"] = self.info.start_time_total + since_restore
        result["time_since_restore"] = since_restore
        result["iterations_since_restore"] = self.iterations_since_restore
        result["timestamp"] = int(now)
        result["date"] = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(now))
        result["pid"] = os.getpid()
        result["hostname"] = _HOSTNAME
        result["node_ip"] = os.environ.get("OVERTONE_NODE_IP", "127.0.0.1")
        checkpoint_dirname = None
        if checkpoint is not None:
            checkpoint_dirname = self._persist(checkpoint)
            result["checkpoint_dir_name"] = checkpoint_dirname
        decision = self.channel.report(result, checkpoint_dirname, self.info.sync)
        self.last_report = time.time()
        if decision != "CONTINUE":
            raise TrialStopped(decision)
        if result["done"]:
            raise TrialStopped("STOP")

    def _persist(self, checkpoint: Checkpoint) -> str:
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(
                f"checkpoint is {checkpoint!r}, but must be a tune.Checkpoint "
                "(use tune.Checkpoint.from_directory(path))"
            )
        dirname = checkpoint_name(self.iteration)
        target = os.path.join(self.info.trial_dir, dirname)
        source = os.path.abspath(checkpoint.path)
        if os.path.dirname(source) == os.path.abspath(self.info.trial_dir) and os.path.basename(
            source
        ).startswith(SAVE_PREFIX):  # written for us by a class trainable: move, don't copy
            shutil.rmtree(target, ignore_errors=True)
            os.replace(source, target)
        elif source != target:
            tmp = target + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(checkpoint.path, tmp)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        return dirname


_current: _Session | None = None


def _get_session() -> _Session | None:
    return _current


def _set_session(session: _Session | None) -> None:
    global _current
    _current = session


def report(
    metrics: dict[str, Any] | None = None, *, checkpoint: Checkpoint | None = None, **kwargs: Any
) -> None:
    """Report a result of the running trial, optionally with a checkpoint.

    Both generations of the API work: ``tune.report(mean_loss=x)`` and
    ``tune.report({"mean_loss": x}, checkpoint=ckpt)``.
    """
    session = _current
    if session is None:
        raise RuntimeError(
            "tune.report() was called outside a trial: call it from the trainable function "
            "that tune.run() or tune.Tuner() runs"
        )
    if metrics is None:
        metrics = kwargs
    elif not isinstance(metrics, dict):
        raise TypeError(f"metrics is {metrics!r}, but must be a dict of metric names to values")
    elif kwargs:
        metrics = {**metrics, **kwargs}
    session.report(metrics, checkpoint)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from: the latest one reported before a restart, else None."""
    session = _current
    return session.loaded_checkpoint if session is not None else None


@contextlib.contextmanager
def checkpoint_dir(step: int | None = None) -> Iterator[str]:
    """The classic way to checkpoint in a function trainable.

    Write files into the yielded directory; they become the checkpoint of the next
    ``tune.report`` call. Example::

        with tune.checkpoint_dir(step=step) as d:
            torch.save(model.state_dict(), os.path.join(d, "model.pt"))
        tune.report(loss=loss)
    """
    session = _current
    if session is None:
        raise RuntimeError("tune.checkpoint_dir() was called outside a trial")
    path = tempfile.mkdtemp(prefix=SAVE_PREFIX, dir=session.info.trial_dir)
    yield path
    session.pending_checkpoint = Checkpoint(path)


def get_context() -> TuneContext:
    return TuneContext(_current)
