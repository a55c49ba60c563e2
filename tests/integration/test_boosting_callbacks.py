"""XGBoost and LightGBM callbacks: metrics each round, checkpoints, get_model, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from overtone import tune

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
from sklearn.datasets import load_breast_cancer  # noqa: E402


def _data():
    x, y = load_breast_cancer(return_X_y=True)
    return x[:400], y[:400], x[400:], y[400:]


def _rows(trial_path):
    with open(os.path.join(trial_path, "result.json")) as f:
        return [json.loads(line) for line in f]


def xgb_train(config):
    from overtone.tune.integration.xgboost import TuneReportCheckpointCallback

    x, y, xv, yv = _data()
    dtrain, dvalid = xgb.DMatrix(x, label=y), xgb.DMatrix(xv, label=yv)
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "error"], "nthread": 1}
    params["max_depth"] = config["max_depth"]
    xgb.train(
        params,
        dtrain,
        num_boost_round=config["rounds"],
        evals=[(dtrain, "train"), (dvalid, "eval")],
        verbose_eval=False,
        callbacks=[TuneReportCheckpointCallback(**config["callback"])],
    )


def test_xgboost_reports_each_round_and_checkpoints(tmp_path, executor):
    callback = {"metrics": {"loss": "eval-logloss", "err": "eval-error"}, "frequency": 4}
    tuner = tune.Tuner(
        xgb_train,
        param_space={"max_depth": tune.grid_search([2, 4]), "rounds": 10, "callback": callback},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    )
    grid = tuner.fit()
    assert grid.num_errors == 0 and len(grid) == 2
    for result in grid:
        rows = _rows(result.path)
        # 10 rounds, then the end-of-training checkpoint (round 10 is not a multiple of 4)
        assert len(rows) == 11
        assert set(rows[0]) >= {"loss", "err"} and "eval-logloss" not in rows[0]
        assert rows[-1]["loss"] == rows[-2]["loss"] < rows[0]["loss"]
        with_ckpt = [r["training_iteration"] for r in rows if r.get("checkpoint_dir_name")]
        assert with_ckpt == [4, 8, 11]
    best = grid.get_best_result()
    booster = __import__(
        "overtone.tune.integration.xgboost", fromlist=["x"]
    ).TuneReportCheckpointCallback.get_model(best.checkpoint)
    assert booster.num_boosted_rounds() == 10
    x, y, xv, yv = _data()
    p = np.clip(booster.predict(xgb.DMatrix(xv)), 1e-15, 1 - 1e-15)
    logloss = -np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p))
    assert logloss == pytest.approx(best.metrics["loss"], rel=1e-4)


def test_xgboost_all_metrics_no_checkpoint_at_end(tmp_path, executor):
    callback = {"checkpoint_at_end": False}
    grid = tune.Tuner(
        xgb_train,
        param_space={"max_depth": 2, "rounds": 3, "callback": callback},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    ).fit()
    rows = _rows(grid[0].path)
    assert len(rows) == 3
    assert {"train-logloss", "train-error", "eval-logloss", "eval-error"} <= set(rows[0])
    assert grid[0].checkpoint is None


def xgb_cv(config):
    from overtone.tune.integration.xgboost import TuneReportCallback

    x, y, _, _ = _data()

    def mean_of_folds(metrics):
        return {"cv-logloss": metrics["test-logloss"][0], "cv-std": metrics["test-logloss"][1]}

    xgb.cv(
        {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1},
        xgb.DMatrix(x, label=y),
        num_boost_round=3,
        nfold=3,
        callbacks=[TuneReportCallback(results_postprocessing_fn=mean_of_folds)],
    )


def test_xgboost_cv_with_postprocessing(tmp_path, executor):
    grid = tune.Tuner(
        xgb_cv, run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor)
    ).fit()
    rows = _rows(grid[0].path)
    assert (
        len(rows) == 3 and rows[0]["cv-std"] >= 0 and rows[2]["cv-logloss"] < rows[0]["cv-logloss"]
    )


def lgb_train(config):
    from overtone.tune.integration.lightgbm import TuneReportCheckpointCallback

    x, y, xv, yv = _data()
    dtrain = lgb.Dataset(x, label=y)
    dvalid = lgb.Dataset(xv, label=yv, reference=dtrain)
    params = {"objective": "binary", "metric": ["binary_logloss", "binary_error"]}
    params.update(num_threads=1, verbose=-1, num_leaves=config["num_leaves"])
    lgb.train(
        params,
        dtrain,
        num_boost_round=8,
        valid_sets=[dvalid],
        valid_names=["eval"],
        callbacks=[TuneReportCheckpointCallback(**config["callback"])],
    )


def test_lightgbm_reports_each_round_and_checkpoints(tmp_path, executor):
    from overtone.tune.integration.lightgbm import TuneReportCheckpointCallback

    callback = {"metrics": {"loss": "eval-binary_logloss"}, "frequency": 3}
    grid = tune.Tuner(
        lgb_train,
        param_space={"num_leaves": tune.grid_search([4, 8]), "callback": callback},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    ).fit()
    assert grid.num_errors == 0
    for result in grid:
        rows = _rows(result.path)
        assert len(rows) == 8 and rows[-1]["loss"] < rows[0]["loss"]
        assert "eval-binary_error" not in rows[0]
        with_ckpt = [r["training_iteration"] for r in rows if r.get("checkpoint_dir_name")]
        assert with_ckpt == [3, 6, 8]
    best = grid.get_best_result()
    booster = TuneReportCheckpointCallback.get_model(best.checkpoint)
    _, _, xv, yv = _data()
    p = np.clip(booster.predict(xv), 1e-15, 1 - 1e-15)
    logloss = -np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p))
    assert logloss == pytest.approx(best.metrics["loss"], rel=1e-4)


def test_unknown_metric_names_the_available_ones(tmp_path, executor):
    callback = {"metrics": ["eval-auc"]}
    grid = tune.Tuner(
        xgb_train,
        param_space={"max_depth": 2, "rounds": 2, "callback": callback},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, executor=executor),
    ).fit()
    assert grid.num_errors == 1
    assert "'eval-auc' is not among the metrics XGBoost reported" in str(grid.errors[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": -1}, "frequency is -1, but must be an int >= 0"),
        ({"metrics": 3}, "metrics is 3, but must be None"),
        ({"filename": ""}, "filename is '', but must be a plain file name"),
    ],
)
def test_bad_arguments(kwargs, message):
    from overtone.tune.integration import lightgbm, xgboost

    for module in (xgboost, lightgbm):
        with pytest.raises(ValueError, match=message):
            module.TuneReportCheckpointCallback(**kwargs)


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("xgboost", "xgboost"),
        ("lightgbm", "lightgbm"),
        ("pytorch_lightning", "lightning"),
        ("keras", "keras"),
    ],
)
def test_missing_framework_names_the_extra(module, extra):
    blocked = {"pytorch_lightning": ["lightning", "pytorch_lightning"]}.get(module, [module])
    code = (
        "import sys\n"
        + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
        + "import overtone.tune.integration\n"
        + "try:\n"
        + f"    import overtone.tune.integration.{module}\n"
        + "except ImportError as e:\n"
        + "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"pip install 'overtone[{extra}]'" in out.stdout
