"""Serving: the best checkpoint of an experiment behind an HTTP endpoint.

Replicas run on the executor that runs trials (worker processes here, or a Dask cluster),
with a trial's resources; a front process batches requests across clients and answers
``POST /v1/models/<name>:predict`` (the KServe v1 shape). Example::

    from overtone import serve

    handle = serve.run(MyPredictor, result=result_grid, metric="acc", mode="max", replicas=2)
    print(handle.url, handle.predict([[5.1, 3.5, 1.4, 0.2]]))
    handle.stop()

The same from a shell: ``overtone serve EXPERIMENT_PATH --predictor module:Class``.
"""

from __future__ import annotations

from overtone.serve._handle import ServeError, ServeHandle
from overtone.serve._predictors import Predictor, SklearnPredictor
from overtone.serve._server import run

__all__ = ["Predictor", "ServeError", "ServeHandle", "SklearnPredictor", "run"]
