"""The class API: subclass ``tune.Trainable`` and implement ``setup`` and ``step``."""

from __future__ import annotations

import json
import os
import pickle
import socket
import tempfile
import time
from typing import Any

import cloudpickle

from overtone._trial import Resources
from overtone.checkpoint import Checkpoint
from overtone.runtime._session import TrialInfo, _get_session
from overtone.storage._layout import DICT_CHECKPOINT_FILE

# ``save_checkpoint`` may return a dict instead of writing files: it is kept in this file of
# the checkpoint folder and handed back to ``load_checkpoint`` as the same dict.
# The iteration and time a standalone ``Trainable.save()`` was at, for ``restore()``.
_METADATA_FILE = ".trainable_metadata.json"


def write_checkpoint(obj: Trainable, checkpoint_dir: str) -> None:
    """Call ``obj.save_checkpoint(checkpoint_dir)``, keeping a returned dict beside its files."""
    data = obj.save_checkpoint(checkpoint_dir)
    if isinstance(data, dict):
        with open(os.path.join(checkpoint_dir, DICT_CHECKPOINT_FILE), "wb") as f:
            cloudpickle.dump(data, f)
    elif data is not None and not isinstance(data, (str, os.PathLike)):
        raise TypeError(
            f"{type(obj).__name__}.save_checkpoint() returned {type(data).__name__}, but must "
            "return None (having written files into checkpoint_dir) or a dict"
        )


def read_checkpoint(checkpoint_dir: str) -> str | dict[str, Any]:
    """What ``load_checkpoint`` receives: the dict ``save_checkpoint`` returned, else the
    checkpoint's folder."""
    path = os.path.join(checkpoint_dir, DICT_CHECKPOINT_FILE)
    if os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)  # noqa: S301 - the trial's own checkpoint
    return checkpoint_dir


class Trainable:
    """A trial as an object: ``setup`` once, ``step`` once per result.

    Example::

        class MyTrainable(tune.Trainable):
            def setup(self, config):
                self.x = config["x"]

            def step(self):
                self.x *= 0.9
                return {"loss": self.x}

            def save_checkpoint(self, checkpoint_dir):
                return {"x": self.x}

            def load_checkpoint(self, checkpoint):
                self.x = checkpoint["x"]

    ``step`` returns a dict of metrics; a result with ``done=True`` ends the trial.
    ``save_checkpoint(checkpoint_dir)`` writes state into the given directory, or returns it
    as a dict; ``load_checkpoint`` then receives that directory, or the same dict.

    A trainable also runs on its own, as in a notebook: ``t = MyTrainable({"x": 1.0})``,
    ``t.train()`` (one step, with the automatic fields such as ``training_iteration``),
    ``path = t.save()``, ``t.restore(path)``, ``t.stop()``.
    """

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        logger_creator: Any = None,
        storage: Any = None,
        **setup_kwargs: Any,
    ) -> None:
        self.config: dict[str, Any] = config or {}
        self._iteration = 0
        self._time_total = 0.0
        self._iterations_since_restore = 0
        self._time_since_restore = 0.0
        self._own_logdir: str | None = None
        session = _get_session()
        self._info: TrialInfo | None = session.info if session is not None else None
        if logger_creator is not None and self._info is None:
            # Ray's logger_creator(config) returns a logger whose ``logdir`` is the trial's.
            self._own_logdir = getattr(logger_creator(self.config), "logdir", None)
        self.setup(self.config, **setup_kwargs) if setup_kwargs else self.setup(self.config)

    # -- facts about the trial -------------------------------------------------------------

    @property
    def iteration(self) -> int:
        """How many results this trainable has produced."""
        return self._iteration

    @property
    def training_iteration(self) -> int:
        return self._iteration

    @property
    def trial_id(self) -> str:
        """The trial's id; ``"default"`` when the trainable runs on its own."""
        return self._info.trial_id if self._info is not None else "default"

    @property
    def trial_name(self) -> str:
        """The trial's name; ``"default"`` when the trainable runs on its own."""
        return self._info.trial_name if self._info is not None else "default"

    @property
    def trial_resources(self) -> Resources | None:
        """What the trial holds (None when the trainable runs on its own)."""
        if self._info is None:
            return None
        return Resources.coerce(dict(self._info.resources))

    @property
    def logdir(self) -> str:
        """The trial's folder (a new temporary folder when the trainable runs on its own)."""
        if self._info is not None:
            return self._info.trial_dir
        if self._own_logdir is None:
            self._own_logdir = tempfile.mkdtemp(prefix=f"{type(self).__name__}_")
        return self._own_logdir

    @property
    def trial_dir(self) -> str:
        return self.logdir

    def get_config(self) -> dict[str, Any]:
        return self.config

    @classmethod
    def default_resource_request(cls, config: dict[str, Any]) -> Any:
        """The resources a trial of this class needs, when the experiment does not say:
        a dict, ``tune.Resources``, ``tune.PlacementGroupFactory`` or None (1 CPU)."""
        return None

    # -- what subclasses implement ---------------------------------------------------------

    def setup(self, config: dict[str, Any]) -> None:
        """Set up the trial's state from its config."""

    def step(self) -> dict[str, Any]:
        """Run one unit of training and return its metrics."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any] | None:
        """Write the trial's state into ``checkpoint_dir``, or return it as a dict."""
        return None

    def load_checkpoint(self, checkpoint: str | dict[str, Any] | None) -> None:
        """Restore the trial's state from what ``save_checkpoint`` wrote or returned."""

    def cleanup(self) -> None:
        """Release what ``setup`` acquired; called when the trial ends."""

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Reuse this object for a new trial's config (``reuse_actors``). Return True if it
        did so; the default, False, makes the experiment build a new object."""
        return False

    # -- driving it ------------------------------------------------------------------------

    def train(self) -> dict[str, Any]:
        """Run one ``step`` and return its result with the automatic fields added."""
        start = time.time()
        result = self.step()
        if not isinstance(result, dict):
            raise TypeError(
                f"{type(self).__name__}.step() returned {result!r}, but must return a dict"
            )
        now = time.time()
        elapsed = now - start
        self._iteration += 1
        self._iterations_since_restore += 1
        self._time_total += elapsed
        self._time_since_restore += elapsed
        result = dict(result)
        result.setdefault("done", False)
        result.update(
            training_iteration=self._iteration,
            trial_id=self.trial_id,
            time_this_iter_s=elapsed,
            time_total_s=self._time_total,
            time_since_restore=self._time_since_restore,
            iterations_since_restore=self._iterations_since_restore,
            timestamp=int(now),
            date=time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(now)),
            pid=os.getpid(),
            hostname=socket.gethostname(),
            config=self.config,
        )
        return result

    def save(self, checkpoint_dir: str | None = None) -> str:
        """Save a checkpoint (into ``checkpoint_dir``, default a new folder in ``logdir``)
        and return its folder, which :meth:`restore` takes."""
        target = checkpoint_dir or os.path.join(self.logdir, f"checkpoint_{self._iteration:06d}")
        os.makedirs(target, exist_ok=True)
        write_checkpoint(self, target)
        with open(os.path.join(target, _METADATA_FILE), "w") as f:
            json.dump({"iteration": self._iteration, "time_total": self._time_total}, f)
        return target

    def restore(
        self, checkpoint_path: str | os.PathLike[str] | Checkpoint | dict[str, Any]
    ) -> None:
        """Restore from a folder that :meth:`save` returned (or a ``tune.Checkpoint``)."""
        if isinstance(checkpoint_path, dict):
            self.load_checkpoint(checkpoint_path)
        else:
            path = os.fspath(checkpoint_path)
            if not os.path.isdir(path):
                raise ValueError(f"checkpoint_path {path!r} is not a checkpoint folder")
            meta = os.path.join(path, _METADATA_FILE)
            if os.path.exists(meta):
                with open(meta) as f:
                    saved = json.load(f)
                self._iteration = int(saved["iteration"])
                self._time_total = float(saved["time_total"])
            self.load_checkpoint(read_checkpoint(path))
        self._iterations_since_restore = 0
        self._time_since_restore = 0.0

    def reset(
        self, new_config: dict[str, Any], logger_creator: Any = None, storage: Any = None
    ) -> bool:
        """Take a new config through :meth:`reset_config`; True when it was accepted."""
        if not self.reset_config(new_config):
            return False
        self.config = new_config
        self._iterations_since_restore = 0
        self._time_since_restore = 0.0
        return True

    def stop(self) -> None:
        """End the trainable: runs :meth:`cleanup`."""
        self.cleanup()
