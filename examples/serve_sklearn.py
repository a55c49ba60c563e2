"""From training to serving: tune a scikit-learn model, then serve its best checkpoint.

    python examples/serve_sklearn.py

The same service from a shell, on the experiment this script leaves behind:

    python -m overtone.serve ~/overtone_results/iris_serve --predictor sklearn --replicas 2
    curl -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}' localhost:8000/v1/models/model:predict
"""

from __future__ import annotations

import os
import pickle
import tempfile

import httpx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from overtone import serve, tune


def train(config: dict) -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(C=config["C"], max_iter=500)
    accuracy = cross_val_score(model, X, y, cv=3).mean()
    model.fit(X, y)
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "model.pkl"), "wb") as f:  # what SklearnPredictor loads
        pickle.dump(model, f)
    tune.report({"accuracy": accuracy}, checkpoint=tune.Checkpoint.from_directory(folder))


if __name__ == "__main__":
    grid = tune.Tuner(
        train,
        param_space={"C": tune.loguniform(1e-3, 1e2)},
        tune_config=tune.TuneConfig(metric="accuracy", mode="max", num_samples=6),
        run_config=tune.RunConfig(name="iris_serve", verbose=0),
    ).fit()
    with serve.run(serve.SklearnPredictor, result=grid, replicas=2, port=0) as handle:
        print("serving", handle.serving["config"], "at", handle.predict_url)
        answer = httpx.post(handle.predict_url, json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
        print(answer.json())  # {"predictions": [0]}
        print(handle.predict([[6.7, 3.0, 5.2, 2.3]]))  # in-process: [2]
