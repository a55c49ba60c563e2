"""TuneSearchCV and TuneGridSearchCV against scikit-learn's own searches, and their options."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.stats import loguniform, uniform
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from overtone import tune
from overtone.tune.sklearn import TuneGridSearchCV, TuneSearchCV


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:600] / 16.0, y[:600]


def test_random_search_matches_randomized_search_cv(digits):
    x, y = digits
    space = {"C": loguniform(1e-2, 1e2), "gamma": loguniform(1e-3, 1e0)}
    ours = TuneSearchCV(SVC(), space, n_trials=6, cv=3, n_jobs=2, random_state=7).fit(x, y)
    theirs = RandomizedSearchCV(SVC(), space, n_iter=6, cv=3, random_state=7).fit(x, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], theirs.cv_results_["rank_test_score"]
    )
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_)
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y))
    np.testing.assert_array_equal(ours.predict(x[:20]), theirs.predict(x[:20]))
    assert list(ours.classes_) == list(range(10)) and ours.n_splits_ == 3


def test_grid_search_matches_grid_search_cv_with_a_list_of_grids():
    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    grid = [
        {"kernel": ["linear"], "C": [0.1, 1.0]},
        {"kernel": ["rbf"], "C": [1.0], "gamma": [0.01, 0.1]},
    ]
    ours = TuneGridSearchCV(SVC(), grid, cv=3, n_jobs=2, return_train_score=True).fit(x, y)
    theirs = GridSearchCV(SVC(), grid, cv=3, return_train_score=True).fit(x, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    for key in ("mean_test_score", "split2_test_score", "mean_train_score"):
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key])
    assert ours.best_params_ == theirs.best_params_
    assert list(ours.cv_results_["param_gamma"].mask) == list(
        theirs.cv_results_["param_gamma"].mask
    )


def test_early_stopping_with_partial_fit_in_a_pipeline(tmp_path):
    x, y = make_classification(n_samples=600, n_features=20, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("sgd", SGDClassifier(random_state=0))])
    search = TuneSearchCV(
        pipe,
        {"sgd__alpha": loguniform(1e-5, 1e0), "sgd__penalty": ["l2", "l1"]},
        n_trials=8,
        early_stopping="ASHAScheduler",
        max_iters=6,
        cv=3,
        n_jobs=2,
        random_state=0,
        local_dir=str(tmp_path),
        name="sgd_asha",
    ).fit(x, y)
    iterations = search.cv_results_["training_iteration"]
    assert iterations.max() == 6 and iterations.min() < 6  # ASHA stopped some early
    best = search.best_index_
    assert iterations[best] == 6 or search.best_score_ >= np.nanmax(
        search.cv_results_["mean_test_score"]
    )
    assert isinstance(search.best_estimator_, Pipeline)
    assert search.best_estimator_.named_steps["sgd"].t_ > 1  # refit with partial_fit steps
    assert search.score(x, y) > 0.7
    assert (tmp_path / "sgd_asha" / "experiment_state.json").exists()  # local_dir is kept


def test_warm_start_ensemble_grows_and_search_inside_a_pipeline():
    x, y = make_classification(n_samples=300, n_features=8, random_state=1)
    search = TuneSearchCV(
        GradientBoostingClassifier(n_estimators=20, random_state=0),
        {"learning_rate": uniform(0.01, 0.3), "max_depth": [1, 2]},
        n_trials=3,
        early_stopping=True,
        max_iters=4,
        cv=2,
        n_jobs=2,
        random_state=0,
    )
    pipe = Pipeline([("scale", StandardScaler()), ("search", search)]).fit(x, y)
    fitted = pipe.named_steps["search"]
    assert fitted.best_estimator_.n_estimators == round(
        20 * fitted.cv_results_["training_iteration"][fitted.best_index_] / 4
    )
    assert pipe.score(x, y) > 0.8


@pytest.mark.parametrize("algorithm", ["optuna", "hyperopt", "bayesian"])
def test_model_based_searchers_with_overtone_and_scipy_spaces(algorithm):
    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x)[:300]
    y = y[:300]
    space = {"C": tune.loguniform(1e-3, 1e2), "tol": uniform(1e-4, 1e-3)}
    search = TuneSearchCV(
        LogisticRegression(max_iter=200),
        space,
        n_trials=4,
        search_optimization=algorithm,
        cv=2,
        n_jobs=2,
        random_state=0,
    ).fit(x, y)
    assert len(search.cv_results_["params"]) == 4
    assert all(1e-3 <= p["C"] <= 1e2 for p in search.cv_results_["params"])
    assert search.best_score_ > 0.8


def test_multimetric_scoring_refits_on_the_named_metric():
    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    search = TuneGridSearchCV(
        LogisticRegression(max_iter=300),
        {"C": [0.01, 1.0]},
        scoring=["accuracy", "roc_auc"],
        refit="roc_auc",
        cv=2,
        n_jobs=2,
    ).fit(x, y)
    assert {"mean_test_accuracy", "mean_test_roc_auc", "rank_test_roc_auc"} <= set(
        search.cv_results_
    )
    assert search.best_score_ == search.cv_results_["mean_test_roc_auc"].max()
    assert 0.5 < search.score(x, y) <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_jobs": 0}, "n_jobs is 0, but must be None, -1 or an int >= 1"),
        ({"search_optimization": "grid"}, "search_optimization is 'grid', but must be one of"),
        ({"n_trials": 0}, "n_trials is 0, but must be an int >= 1"),
        ({"early_stopping": "PBT", "max_iters": 3}, "early_stopping is 'PBT', but must be"),
        ({"max_iters": 0}, "max_iters is 0, but must be an int >= 1"),
    ],
)
def test_bad_arguments(kwargs, message, digits):
    x, y = digits
    with pytest.raises(ValueError, match=message):
        TuneSearchCV(SGDClassifier(), {"alpha": [1e-4, 1e-3]}, **kwargs).fit(x, y)


def test_early_stopping_needs_an_incremental_estimator(digits):
    x, y = digits
    with pytest.raises(ValueError, match="cannot train step by step"):
        TuneSearchCV(SVC(), {"C": [1.0, 2.0]}, early_stopping=True, max_iters=3).fit(x, y)


def test_no_storage_left_behind(digits, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    x, y = digits
    TuneGridSearchCV(SGDClassifier(random_state=0), {"alpha": [1e-4]}, cv=2).fit(x, y)
    assert not [p for p in os.listdir(tmp_path) if p.startswith("overtone-search-")]
