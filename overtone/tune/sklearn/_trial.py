"""What one trial of a search does: cross-validate one candidate, or train it step by step."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing

from overtone.runtime import report

CANDIDATE = "candidate"  # the config key that indexes a fixed list of candidates


@dataclass
class SearchData:
    """What every trial of one search shares; sent to each worker once."""

    estimator: Any
    X: Any
    y: Any
    splits: list[tuple[np.ndarray, np.ndarray]]
    scorers: dict[str, Any]  # name -> scorer; a single metric is named "score"
    candidates: list[dict[str, Any]] | None  # None: the config holds the parameters
    max_iters: int
    incremental: str | None  # "partial_fit", "warm_start_ensemble", "warm_start_iter" or None
    return_train_score: bool
    error_score: Any
    fit_params: dict[str, Any] = field(default_factory=dict)
    sk_n_jobs: int | None = None
    threads: int = 1


def params_of(config: dict[str, Any], candidates: list[dict[str, Any]] | None) -> dict[str, Any]:
    if candidates is not None:
        return dict(candidates[config[CANDIDATE]])
    return dict(config)


def incremental_mode(estimator: Any) -> str | None:
    """How ``estimator`` (or a pipeline's last step) can train a little more each iteration."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if hasattr(final, "partial_fit"):
        return "partial_fit"
    params = final.get_params(deep=False)
    if "warm_start" in params and "n_estimators" in params:
        return "warm_start_ensemble"
    if "warm_start" in params and "max_iter" in params:
        return "warm_start_iter"
    return None


class IncrementalFit:
    """One estimator (or pipeline) trained a step at a time on one set of rows."""

    def __init__(self, estimator: Any, mode: str, max_iters: int, classes: Any) -> None:
        self.estimator = estimator
        self.mode = mode
        self.max_iters = max_iters
        self.classes = classes
        self.final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
        self.n_estimators = None
        if mode == "warm_start_ensemble":
            self.n_estimators = self.final.get_params()["n_estimators"]
            self.final.set_params(warm_start=True)
        elif mode == "warm_start_iter":
            self.final.set_params(warm_start=True, max_iter=1)
        self._Xt: Any = None

    def step(self, iteration: int, X: Any, y: Any, fit_params: dict[str, Any]) -> None:
        """Train for iteration ``iteration`` (0-based) of ``max_iters``."""
        if self._Xt is None:
            if isinstance(self.estimator, Pipeline) and len(self.estimator.steps) > 1:
                # the transformers are fitted once; only the last step trains step by step
                self._Xt = self.estimator[:-1].fit_transform(X, y)
            else:
                self._Xt = X
        if self.mode == "partial_fit":
            if self.classes is not None and is_classifier(self.final):
                self.final.partial_fit(self._Xt, y, classes=self.classes, **fit_params)
            else:
                self.final.partial_fit(self._Xt, y, **fit_params)
            return
        if self.mode == "warm_start_ensemble":
            grown = max(1, round(self.n_estimators * (iteration + 1) / self.max_iters))
            self.final.set_params(n_estimators=grown)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # one iteration at a time
            self.final.fit(self._Xt, y, **fit_params)


def _score(scorers: dict[str, Any], estimator: Any, X: Any, y: Any, error_score: Any) -> dict:
    out = {}
    for name, scorer in scorers.items():
        try:
            out[name] = float(scorer(estimator, X, y))
        except Exception:
            if error_score == "raise":
                raise
            out[name] = float(error_score)
    return out


def _summary(per_split: list[dict[str, float]], prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in per_split[0]:
        values = np.array([split[name] for split in per_split], dtype=float)
        for k, v in enumerate(values):
            out[f"split{k}_{prefix}_{name}"] = float(v)
        out[f"average_{prefix}_{name}"] = float(np.mean(values))
        out[f"std_{prefix}_{name}"] = float(np.std(values))
    return out


def _with_threads(threads: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def cv_trial(config: dict[str, Any], data: SearchData | None = None) -> None:
    """The trainable of every search trial."""
    if data is None:
        raise TypeError("cv_trial needs its SearchData (given by tune.with_parameters)")
    params = params_of(config, data.candidates)
    with _with_threads(data.threads):
        if data.incremental is None or data.max_iters <= 1:
            _fit_once(params, data)
        else:
            _fit_incrementally(params, data)


def _fit_once(params: dict[str, Any], data: SearchData) -> None:
    estimator = clone(data.estimator).set_params(**params)
    scoring = data.scorers
    out = cross_validate(
        estimator,
        data.X,
        data.y,
        cv=data.splits,
        scoring=scoring,
        n_jobs=data.sk_n_jobs,
        return_train_score=data.return_train_score,
        error_score=data.error_score,
        params=data.fit_params or None,
    )
    n = len(data.splits)
    test = [{name: float(out[f"test_{name}"][k]) for name in scoring} for k in range(n)]
    metrics = _summary(test, "test")
    if data.return_train_score:
        train = [{name: float(out[f"train_{name}"][k]) for name in scoring} for k in range(n)]
        metrics.update(_summary(train, "train"))
    metrics.update(_times(out["fit_time"], out["score_time"]))
    report(metrics)


def _times(fit_times: Any, score_times: Any) -> dict[str, float]:
    return {
        "fit_time": float(np.mean(fit_times)),
        "std_fit_time": float(np.std(fit_times)),
        "score_time": float(np.mean(score_times)),
        "std_score_time": float(np.std(score_times)),
    }


def _fit_incrementally(params: dict[str, Any], data: SearchData) -> None:
    classes = np.unique(data.y) if is_classifier(data.estimator) else None
    folds = []
    for train, test in data.splits:
        estimator = clone(data.estimator).set_params(**params)
        fitter = IncrementalFit(estimator, data.incremental or "", data.max_iters, classes)
        folds.append((fitter, train, test))
    fit_times = np.zeros(len(folds))
    for iteration in range(data.max_iters):
        test_scores, train_scores, score_times = [], [], []
        for k, (fitter, train, test) in enumerate(folds):
            X_train, y_train = _safe_indexing(data.X, train), _safe_indexing(data.y, train)
            start = time.perf_counter()
            try:
                fitter.step(iteration, X_train, y_train, data.fit_params)
                failed = False
            except Exception:
                if data.error_score == "raise":
                    raise
                failed = True
            fit_times[k] += time.perf_counter() - start
            start = time.perf_counter()
            if failed:
                scores = {name: float(data.error_score) for name in data.scorers}
                test_scores.append(scores)
                train_scores.append(scores)
            else:
                X_test, y_test = _safe_indexing(data.X, test), _safe_indexing(data.y, test)
                test_scores.append(
                    _score(data.scorers, fitter.estimator, X_test, y_test, data.error_score)
                )
                if data.return_train_score:
                    train_scores.append(
                        _score(data.scorers, fitter.estimator, X_train, y_train, data.error_score)
                    )
            score_times.append(time.perf_counter() - start)
        metrics = _summary(test_scores, "test")
        if data.return_train_score:
            metrics.update(_summary(train_scores, "train"))
        metrics.update(_times(fit_times, score_times))
        report(metrics)
