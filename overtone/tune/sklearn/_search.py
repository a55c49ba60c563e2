"""``TuneSearchCV`` and ``TuneGridSearchCV``: scikit-learn searches run as Overtone experiments."""

from __future__ import annotations

import numbers
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils.validation import indexable

from overtone.tune.sklearn._space import is_grid_search, is_overtone_space, to_overtone
from overtone.tune.sklearn._trial import (
    CANDIDATE,
    IncrementalFit,
    SearchData,
    cv_trial,
    incremental_mode,
    params_of,
)

_SEARCHERS = ("random", "bayesian", "hyperopt", "optuna")
_SCHEDULERS = ("ASHAScheduler", "HyperBandScheduler", "MedianStoppingRule")


class _TuneBaseSearchCV(BaseSearchCV):
    """The shared machinery: scorers, splits, the experiment, ``cv_results_`` and refit.

    ``BaseSearchCV`` gives the delegating methods (``predict``, ``score``, ``classes_``...);
    ``fit`` is Overtone's own.
    """

    def _space(self) -> tuple[dict[str, Any], list[dict[str, Any]] | None, int]:
        """(param_space, fixed candidates or None, num_samples)."""
        raise NotImplementedError

    def _search_alg(self) -> Any:
        return None

    # -- checks -------------------------------------------------------------------------
    def _check_common(self) -> None:
        if self.n_jobs is not None and (
            not isinstance(self.n_jobs, numbers.Integral) or self.n_jobs == 0 or self.n_jobs < -1
        ):
            raise ValueError(f"n_jobs is {self.n_jobs!r}, but must be None, -1 or an int >= 1")
        if not isinstance(self.max_iters, numbers.Integral) or self.max_iters < 1:
            raise ValueError(f"max_iters is {self.max_iters!r}, but must be an int >= 1")

    def _scorers(self) -> tuple[dict[str, Any], str, bool]:
        """(name -> scorer, the refit metric's name, whether there are several)."""
        scoring = self.scoring
        if scoring is None or isinstance(scoring, str) or callable(scoring):
            return {"score": check_scoring(self.estimator, scoring)}, "score", False
        if isinstance(scoring, Mapping):
            named = dict(scoring)
        elif isinstance(scoring, Sequence):
            named = {s: s for s in scoring}
        else:
            raise ValueError(
                f"scoring is {scoring!r}, but must be None, a name, a callable, a list of "
                "names or a dict of names to scorers"
            )
        scorers = {name: check_scoring(self.estimator, s) for name, s in named.items()}
        refit = self.refit
        if refit is True or refit is False or callable(refit):
            if refit is True:
                raise ValueError(
                    f"refit is True with several metrics ({sorted(scorers)}), but must name "
                    "the one that picks the best candidate (refit='name'), be False or a "
                    "callable"
                )
            return scorers, next(iter(scorers)), True
        if refit not in scorers:
            raise ValueError(f"refit is {refit!r}, but must be one of {sorted(scorers)}")
        return scorers, refit, True

    def _scheduler(self, metric: str) -> Any:
        from overtone import schedulers

        early = self.early_stopping
        if early is None or early is False:
            return None
        if early is True:
            early = "ASHAScheduler"
        if isinstance(early, str):
            if early not in _SCHEDULERS:
                raise ValueError(
                    f"early_stopping is {early!r}, but must be a bool, one of {_SCHEDULERS} "
                    "or a scheduler object"
                )
            if early == "MedianStoppingRule":
                return schedulers.MedianStoppingRule(metric=metric, mode="max", grace_period=1)
            cls = getattr(schedulers, early)
            return cls(metric=metric, mode="max", max_t=self.max_iters)
        return early

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, groups: Any = None, **fit_params: Any) -> Any:
        """Run one trial per candidate, then refit the best one on all of ``X``."""
        from overtone import tune
        from overtone.executors import LocalExecutor

        self._check_common()
        X, y, groups = indexable(X, y, groups)
        scorers, refit_metric, multimetric = self._scorers()
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        incremental = incremental_mode(self.estimator) if self.max_iters > 1 else None
        if self.early_stopping not in (None, False):
            if incremental_mode(self.estimator) is None:
                raise ValueError(
                    f"early_stopping is {self.early_stopping!r}, but {self.estimator!r} cannot "
                    "train step by step: it needs partial_fit, or warm_start with n_estimators "
                    "or max_iter"
                )
            if self.max_iters <= 1:
                warnings.warn(
                    "early_stopping is set but max_iters is 1: there is nothing to stop early "
                    "(set max_iters > 1)",
                    UserWarning,
                    stacklevel=2,
                )
        param_space, candidates, num_samples = self._space()
        metric = f"average_test_{refit_metric}"
        data = SearchData(
            estimator=self.estimator,
            X=X,
            y=y,
            splits=splits,
            scorers=scorers,
            candidates=candidates,
            max_iters=self.max_iters,
            incremental=incremental,
            return_train_score=self.return_train_score,
            error_score=self.error_score,
            fit_params=fit_params,
            sk_n_jobs=self.sk_n_jobs,
            threads=max(1, self.sk_n_jobs or 1),
        )
        # n_jobs trials at once: one CPU each, on as many CPUs (None or -1: all of them)
        n_cpus = None if self.n_jobs in (None, -1) else int(self.n_jobs)
        executor = self.executor or LocalExecutor(
            num_cpus=n_cpus, num_gpus=None if self.use_gpu else 0
        )
        resources = {"cpu": 1, "gpu": 1} if self.use_gpu else {"cpu": 1}
        storage = self.local_dir
        scratch = None
        if storage is None:
            scratch = storage = tempfile.mkdtemp(prefix="overtone-search-")
        try:
            tuner = tune.Tuner(
                tune.with_resources(tune.with_parameters(cv_trial, data=data), resources),
                param_space=param_space,
                tune_config=tune.TuneConfig(
                    metric=metric,
                    mode="max",
                    num_samples=num_samples,
                    search_alg=self._search_alg(),
                    scheduler=self._scheduler(metric),
                    time_budget_s=self.time_budget_s,
                    seed=self._seed(),
                ),
                run_config=tune.RunConfig(
                    name=self.name,
                    storage_path=storage,
                    stop=self.stopper,
                    executor=executor,
                    verbose=min(int(self.verbose), 3) if self.verbose else 0,
                    default_loggers=self.loggers is not False,
                ),
            )
            grid = tuner.fit()
            self._collect(grid, candidates, scorers, splits, refit_metric, multimetric)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        if self.refit:
            self._refit(X, y, fit_params, incremental)
        self.scorer_ = scorers if multimetric else scorers["score"]
        self.multimetric_ = multimetric
        self.n_splits_ = len(splits)
        return self

    def _seed(self) -> int | None:
        state = getattr(self, "random_state", None)
        if state is None or isinstance(state, numbers.Integral):
            return state
        return int(np.random.default_rng(state.randint(2**31 - 1)).integers(2**31 - 1))

    def _collect(self, grid, candidates, scorers, splits, refit_metric, multimetric) -> None:
        rows, params, iterations = [], [], []
        for result in grid:
            if result.error is not None and self.error_score == "raise":
                raise result.error
            metrics = result.metrics or {}
            if not any(k.startswith("average_test_") for k in metrics):
                if result.error is not None:
                    warnings.warn(f"a trial failed: {result.error}", UserWarning, stacklevel=3)
                metrics = {}
            rows.append(metrics)
            params.append(params_of(result.config, candidates))
            iterations.append(int(metrics.get("training_iteration", 0)))
        results: dict[str, Any] = {}
        for key in ("fit_time", "score_time"):
            results[f"mean_{key}"] = np.array([r.get(key, np.nan) for r in rows])
            results[f"std_{key}"] = np.array([r.get(f"std_{key}", np.nan) for r in rows])
        names = sorted({k for p in params for k in p})
        for name in names:
            column = np.ma.MaskedArray(np.empty(len(params), dtype=object), mask=True)
            for i, p in enumerate(params):
                if name in p:
                    column[i] = p[name]
            results[f"param_{name}"] = column
        results["params"] = params
        sets = ("test", "train") if self.return_train_score else ("test",)
        error = np.nan if self.error_score == "raise" else float(self.error_score)
        for which in sets:
            for name in scorers:
                for k in range(len(splits)):
                    key = f"split{k}_{which}_{name}"
                    results[key] = np.array([r.get(key, error) for r in rows], dtype=float)
                mean = np.array([r.get(f"average_{which}_{name}", error) for r in rows], float)
                results[f"mean_{which}_{name}"] = mean
                results[f"std_{which}_{name}"] = np.array(
                    [r.get(f"std_{which}_{name}", np.nan) for r in rows], dtype=float
                )
                if which == "test":
                    results[f"rank_test_{name}"] = _rank(mean)
        results["training_iteration"] = np.array(iterations)
        self.cv_results_ = results
        self._iterations = iterations
        if callable(self.refit):
            self.best_index_ = int(self.refit(results))
        elif self.refit or not multimetric:
            self.best_index_ = int(np.argmin(results[f"rank_test_{refit_metric}"]))
            self.best_score_ = float(results[f"mean_test_{refit_metric}"][self.best_index_])
        if hasattr(self, "best_index_"):
            self.best_params_ = params[self.best_index_]

    def _refit(self, X: Any, y: Any, fit_params: dict[str, Any], incremental: Any) -> None:
        start = time.perf_counter()
        estimator = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        if incremental is None:
            estimator.fit(X, y, **fit_params)
        else:
            # train as the winning trial was scored: the same number of steps
            classes = np.unique(y) if is_classifier(self.estimator) else None
            fitter = IncrementalFit(estimator, incremental, self.max_iters, classes)
            for iteration in range(max(1, self._iterations[self.best_index_])):
                fitter.step(iteration, X, y, fit_params)
        self.refit_time_ = time.perf_counter() - start
        self.best_estimator_ = estimator
        if hasattr(estimator, "feature_names_in_"):
            self.feature_names_in_ = estimator.feature_names_in_


def _rank(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the best score (ties share the lowest rank); NaN ranks last."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    order = np.argsort(-filled, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int32)
    rank = 0
    previous = None
    for position, i in enumerate(order):
        if previous is None or filled[i] != previous:
            rank = position + 1
            previous = filled[i]
        ranks[i] = rank
    return ranks


class TuneSearchCV(_TuneBaseSearchCV):
    """A drop-in for ``RandomizedSearchCV``: each sampled candidate is an Overtone trial.

    Args:
        estimator: a scikit-learn estimator or ``Pipeline``.
        param_distributions: scikit-learn's form (a dict, or list of dicts, of lists and
            scipy.stats distributions) or Overtone's (``tune.uniform`` ...). With
            ``search_optimization="random"`` and scikit-learn's form, candidates are drawn by
            scikit-learn's own ``ParameterSampler``: the same ``random_state`` gives the same
            candidates as ``RandomizedSearchCV``.
        early_stopping: True (ASHA), a scheduler name ("ASHAScheduler",
            "HyperBandScheduler", "MedianStoppingRule"), a scheduler object, or None/False.
            It needs an estimator with ``partial_fit`` or ``warm_start``, and ``max_iters``.
        n_trials: candidates to try.
        scoring, cv, refit, error_score, return_train_score, verbose: as in scikit-learn.
        n_jobs: trials at once (None or -1: one per CPU).
        random_state: seeds the sampling (and the searcher).
        local_dir: keep the experiment there (default: a temporary folder, removed).
        name: the experiment's name.
        max_iters: steps of incremental training per trial (partial_fit calls, or the
            warm-started ensemble grown to its ``n_estimators`` in this many steps).
        search_optimization: "random", "bayesian" (bayesian-optimization), "hyperopt" or
            "optuna".
        search_kwargs: extra arguments for the searcher.
        stopper, time_budget_s: as in ``tune.RunConfig``/``TuneConfig``.
        sk_n_jobs: ``n_jobs`` of each trial's own cross-validation (default 1).
        executor: where trials run (default: local worker processes).
        loggers: False turns off TensorBoard/CSV files.
        use_gpu: give each trial one GPU (its ``CUDA_VISIBLE_DEVICES`` names it).
    """

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        early_stopping: Any = None,
        n_trials: int = 10,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: Any = True,
        cv: Any = None,
        verbose: int = 0,
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        local_dir: str | None = None,
        name: str | None = None,
        max_iters: int = 1,
        search_optimization: str = "random",
        search_kwargs: dict[str, Any] | None = None,
        stopper: Any = None,
        time_budget_s: float | None = None,
        sk_n_jobs: int | None = None,
        executor: Any = None,
        loggers: Any = None,
        use_gpu: bool = False,
    ) -> None:
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.param_distributions = param_distributions
        self.early_stopping = early_stopping
        self.n_trials = n_trials
        self.random_state = random_state
        self.local_dir = local_dir
        self.name = name
        self.max_iters = max_iters
        self.search_optimization = search_optimization
        self.search_kwargs = search_kwargs
        self.stopper = stopper
        self.time_budget_s = time_budget_s
        self.sk_n_jobs = sk_n_jobs
        self.executor = executor
        self.loggers = loggers
        self.use_gpu = use_gpu

    def _space(self) -> tuple[dict[str, Any], list[dict[str, Any]] | None, int]:
        if not isinstance(self.n_trials, numbers.Integral) or self.n_trials < 1:
            raise ValueError(f"n_trials is {self.n_trials!r}, but must be an int >= 1")
        if self.search_optimization not in _SEARCHERS:
            raise ValueError(
                f"search_optimization is {self.search_optimization!r}, but must be one of "
                f"{_SEARCHERS}"
            )
        space = self.param_distributions
        sklearn_form = isinstance(space, Sequence) or not is_overtone_space(space)
        if self.search_optimization == "random" and sklearn_form:
            sampler = ParameterSampler(space, self.n_trials, random_state=self.random_state)
            candidates = list(sampler)
            from overtone.search import grid_search

            return {CANDIDATE: grid_search(range(len(candidates)))}, candidates, 1
        if not isinstance(space, Mapping):
            raise ValueError(
                f"param_distributions is a {type(space).__name__}, but search_optimization="
                f"{self.search_optimization!r} needs one dict"
            )
        return to_overtone(space), None, int(self.n_trials)

    def _search_alg(self) -> Any:
        kwargs = dict(self.search_kwargs or {})
        if self.search_optimization == "random":
            return None
        if self.search_optimization == "bayesian":
            from overtone.tune.search.bayesopt import BayesOptSearch

            return BayesOptSearch(**kwargs)
        if self.search_optimization == "hyperopt":
            from overtone.tune.search.hyperopt import HyperOptSearch

            return HyperOptSearch(**kwargs)
        from overtone.tune.search.optuna import OptunaSearch

        return OptunaSearch(**kwargs)


class TuneGridSearchCV(_TuneBaseSearchCV):
    """A drop-in for ``GridSearchCV``: each point of the grid is an Overtone trial.

    Args:
        param_grid: a dict of lists, or a list of such dicts, as in ``GridSearchCV``
            (``tune.grid_search`` values are accepted too).
        The rest: as in :class:`TuneSearchCV`.
    """

    def __init__(
        self,
        estimator: Any,
        param_grid: Any,
        early_stopping: Any = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        cv: Any = 5,
        refit: Any = True,
        verbose: int = 0,
        error_score: Any = "raise",
        return_train_score: bool = False,
        local_dir: str | None = None,
        name: str | None = None,
        max_iters: int = 1,
        stopper: Any = None,
        time_budget_s: float | None = None,
        sk_n_jobs: int | None = None,
        executor: Any = None,
        loggers: Any = None,
        use_gpu: bool = False,
    ) -> None:
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.param_grid = param_grid
        self.early_stopping = early_stopping
        self.local_dir = local_dir
        self.name = name
        self.max_iters = max_iters
        self.stopper = stopper
        self.time_budget_s = time_budget_s
        self.sk_n_jobs = sk_n_jobs
        self.executor = executor
        self.loggers = loggers
        self.use_gpu = use_gpu

    def _space(self) -> tuple[dict[str, Any], list[dict[str, Any]] | None, int]:
        from overtone.search import grid_search

        grid = self.param_grid
        grids = [grid] if isinstance(grid, Mapping) else list(grid)
        plain = []
        for g in grids:
            if not isinstance(g, Mapping):
                raise ValueError(f"param_grid is {grid!r}, but must be a dict or list of dicts")
            plain.append({k: v["grid_search"] if is_grid_search(v) else v for k, v in g.items()})
        candidates = list(ParameterGrid(plain))
        return {CANDIDATE: grid_search(range(len(candidates)))}, candidates, 1
