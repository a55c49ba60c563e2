"""Predictors: the user's classes that load a checkpoint and answer batches.

Any class with ``__init__(self, checkpoint, config)`` and ``predict(self, instances)``
(or ``async def predict``) is a predictor; subclassing :class:`Predictor` is optional.
:class:`SklearnPredictor` serves a pickled scikit-learn estimator.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
from typing import Any

from overtone.checkpoint import Checkpoint


class Predictor:
    """The shape of a predictor (subclassing it is optional).

    ``__init__`` runs once per replica, in the replica's worker process, with the
    checkpoint to load and the trial's config. ``predict`` gets a batch: a list of
    instances gathered from one or more requests, and returns one prediction per instance,
    as a list (or a numpy array). It may be ``async def``. ``close()``, if defined, runs
    when the replica stops.
    """

    def __init__(self, checkpoint: Checkpoint, config: dict[str, Any]) -> None:
        self.checkpoint = checkpoint
        self.config = config

    def predict(self, instances: list[Any]) -> list[Any]:
        raise NotImplementedError(f"{type(self).__name__}.predict() is not written")


class SklearnPredictor(Predictor):
    """Serves a scikit-learn estimator pickled into the checkpoint.

    It loads the first of ``filenames`` found in the checkpoint folder (``.joblib`` files
    with joblib, others with pickle) and answers with ``method`` (``"predict"``; set
    ``"predict_proba"`` in a subclass for probabilities). Instances are rows of features.
    """

    filenames: tuple[str, ...] = ("model.pkl", "model.pickle", "model.joblib", "estimator.pkl")
    method = "predict"

    def __init__(self, checkpoint: Checkpoint, config: dict[str, Any]) -> None:
        super().__init__(checkpoint, config)
        with checkpoint.as_directory() as folder:
            for filename in self.filenames:
                path = os.path.join(folder, filename)
                if os.path.isfile(path):
                    break
            else:
                raise FileNotFoundError(
                    f"the checkpoint {checkpoint.path} holds none of {list(self.filenames)}; "
                    "set SklearnPredictor.filenames in a subclass to the file it holds"
                )
            if path.endswith(".joblib"):
                import joblib

                self.model = joblib.load(path)
            else:
                with open(path, "rb") as f:
                    self.model = pickle.load(f)
        self._predict = getattr(self.model, self.method)

    def predict(self, instances: list[Any]) -> Any:
        import numpy as np

        return self._predict(np.asarray(instances))


def load_predictor(spec: Any) -> Any:
    """A predictor class, from itself or from ``"module:Class"`` (or ``module.Class``)."""
    if isinstance(spec, str):
        module_name, sep, attr = spec.partition(":")
        if not sep:
            module_name, _, attr = spec.rpartition(".")
        if not module_name or not attr:
            raise ValueError(f"predictor is {spec!r}, but must be 'module:Class'")
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` does: the user's own modules
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(
                f"predictor is {spec!r}, but {module_name!r} cannot be imported: {exc}"
            ) from exc
        try:
            spec_obj = module
            for part in attr.split("."):
                spec_obj = getattr(spec_obj, part)
        except AttributeError:
            raise ValueError(f"predictor is {spec!r}, but {module_name} has no {attr!r}") from None
        spec = spec_obj
    if not callable(spec) or not callable(getattr(spec, "predict", None)):
        raise TypeError(
            f"predictor is {spec!r}, but must be a class with __init__(self, checkpoint, "
            "config) and predict(self, instances)"
        )
    return spec
