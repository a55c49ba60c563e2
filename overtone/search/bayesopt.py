"""``BayesOptSearch``: Gaussian-process Bayesian optimization with the ``bayesian-optimization``
package (``pip install 'overtone[bayesopt]'``), its 1.x API and its 2.x/3.x one alike.

The package searches a box of continuous parameters: floats (log-scaled ones are searched on
the log scale), and integers as continuous values rounded to the nearest allowed one.
Categorical parameters, normal distributions and grids raise a ValueError when the space is
given. The package is imported when a ``BayesOptSearch`` is made, not when this module is.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import numbers
from collections import Counter
from typing import Any

import cloudpickle
import numpy as np

from overtone._checks import import_optional
from overtone.search._base import Searcher
from overtone.search._convert import (
    MISSING,
    AdapterSearcher,
    Param,
    build_suggestion,
    check_points,
    lookup,
    metric_value,
    parse_space,
    point_values,
    unsupported,
)
from overtone.space._domains import Categorical, Float, Integer, Normal

_HALF = 0.4999  # integers are rounded from [low - q/2, high + q/2]: every value as likely
_KINDS = ("ucb", "ei", "poi")
_UTILITY_KEYS = {"kind", "kappa", "xi", "kappa_decay", "kappa_decay_delay"}
_WHY_CATEGORICAL = (
    "it searches continuous ranges only; use a numeric range, or OptunaSearch, "
    "HyperOptSearch or NevergradSearch for categorical parameters"
)


def _bayes_opt() -> Any:
    return import_optional("bayes_opt", "BayesOptSearch", "bayesopt", "bayesian-optimization")


class BayesOptSearch(AdapterSearcher):
    """Suggests configs by Bayesian optimization (``ray.tune.search.bayesopt.BayesOptSearch``).

    The first ``random_search_steps`` configs are drawn at random; the Gaussian process takes
    over once their results are all in. A config suggested again while the same config is
    still running waits (suggests nothing) for its result; one suggested again after it
    completed counts as a repeat, and more than ``patience`` repeats of one config end the
    search.

    Args:
        space: the parameters to search, as Overtone domains or as bounds
            ``{"x": (lower, upper)}``. Without it, the experiment's param space is searched.
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: configs to try first (partial ones are completed at random).
        utility_kwargs: the acquisition function: ``kind`` (``"ucb"``, ``"ei"`` or
            ``"poi"``), ``kappa``, ``xi`` (and ``kappa_decay``, ``kappa_decay_delay``).
            Default ``{"kind": "ucb", "kappa": 2.576, "xi": 0.0}``.
        random_state: the seed (default: the experiment's ``seed``, else 42 as in Ray).
        random_search_steps: how many random configs come first.
        verbose: the package's own verbosity.
        patience: how many repeats of one config end the search (None: never).
        skip_duplicate: wait rather than run a config that already ran.
        analysis: an ``ExperimentAnalysis`` whose trials are registered before the search.
        evaluated_rewards: the metric values of ``points_to_evaluate`` if they were already
            evaluated: they are registered instead of being run again.
    """

    library = "BayesOpt"

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        utility_kwargs: dict[str, Any] | None = None,
        random_state: int | None = None,
        random_search_steps: int = 10,
        verbose: int = 0,
        patience: int | None = 5,
        skip_duplicate: bool = True,
        analysis: Any = None,
        evaluated_rewards: list[float] | None = None,
    ) -> None:
        _bayes_opt()
        super().__init__(metric=metric, mode=mode)
        utility = {"kind": "ucb", "kappa": 2.576, "xi": 0.0, **(utility_kwargs or {})}
        unknown = sorted(set(utility) - _UTILITY_KEYS)
        if unknown:
            raise ValueError(
                f"utility_kwargs has {unknown}, but only {sorted(_UTILITY_KEYS)} are known"
            )
        if utility["kind"] not in _KINDS:
            raise ValueError(
                f"utility_kwargs kind is {utility['kind']!r}, but must be one of {list(_KINDS)}"
            )
        _check_count("random_search_steps", random_search_steps, 0)
        if patience is not None:
            _check_count("patience", patience, 1)
        self._utility = utility
        self._seed = random_state
        self._random_search_steps = int(random_search_steps)
        self._verbose = verbose
        self._patience = patience
        self._skip_duplicate = skip_duplicate
        self._analysis = analysis
        self._points, self._rewards = check_points(points_to_evaluate, evaluated_rewards)
        self._space: dict[str, Any] | None = None
        self._params: list[Param] = []
        self._optimizer: Any = None  # made at the first suggestion
        self._rng: np.random.Generator | None = None
        self._pending: list[dict[str, float]] = []  # points to try first, as raw values
        self._random_made = 0
        self._random_live: set[str] = set()
        self._live: dict[str, dict[str, float]] = {}  # trial id -> raw values
        self._live_keys: dict[str, tuple[Any, ...]] = {}
        self._seen: Counter[tuple[Any, ...]] = Counter()
        self._registered = 0
        self._waiting_at: int | None = None  # _registered when a duplicate made us wait
        if space:
            self._set_space(space)
            self._space_from_init = True

    # -- the space -------------------------------------------------------------------------------
    def _has_space(self) -> bool:
        return bool(self._params)

    def _set_space(self, space: dict[str, Any]) -> None:
        params = parse_space(space, "BayesOpt", _is_bounds)
        for param in params:
            _bounds(param)  # raises for what the package cannot express
        if self._optimizer is not None and [p.name for p in params] != [
            p.name for p in self._params
        ]:
            raise ValueError(
                "the param space searches other parameters than this BayesOptSearch (restored) did"
            )
        complete = self._rewards is not None
        for i, point in enumerate(self._points):
            point_values(point, params, i, complete=complete)
        self._space, self._params = space, params

    def _take_seed(self, seed: Any) -> None:
        if self._seed is None and seed is not None:
            self._seed = seed

    # -- the optimizer ---------------------------------------------------------------------------
    def _start(self) -> None:
        bo = _bayes_opt()
        seed = 42 if self._seed is None else self._seed
        self._rng = np.random.default_rng(seed)
        kwargs: dict[str, Any] = {}
        acquisition = _acquisition(self._utility)
        if acquisition is not None:
            kwargs["acquisition_function"] = acquisition
        self._optimizer = bo.BayesianOptimization(
            f=None,
            pbounds={p.name: _bounds(p) for p in self._params},
            random_state=seed,
            verbose=self._verbose,
            allow_duplicate_points=True,
            **kwargs,
        )
        for i, point in enumerate(self._points):
            raw = self._raw(point_values(point, self._params, i))
            if self._rewards is None:
                self._pending.append(raw)
            else:
                self._register(raw, float(self._rewards[i]))
        if self._analysis is not None:
            self.register_analysis(self._analysis)

    def register_analysis(self, analysis: Any) -> None:
        """Register the trials of an earlier experiment (an ``ExperimentAnalysis``) that
        reported this searcher's metric."""
        assert self._metric is not None
        for trial in getattr(analysis, "trials", []):
            value = metric_value(getattr(trial, "last_result", None), self._metric)
            config = getattr(trial, "config", None) or {}
            values = {p.name: lookup(config, p) for p in self._params}
            if value is None or any(v is MISSING for v in values.values()):
                continue
            try:
                raw = self._raw(values)
            except (TypeError, ValueError):
                continue  # a config outside this space
            if self._optimizer is None:
                self._start()
            self._register(raw, value)

    def _raw(self, values: dict[str, Any]) -> dict[str, float]:
        """Values as the package's continuous parameters; missing ones drawn at random."""
        assert self._rng is not None
        raw = {}
        for param in self._params:
            value = values.get(param.name, MISSING)
            if value is MISSING:
                lo, hi = _bounds(param)
                raw[param.name] = float(self._rng.uniform(lo, hi))
            elif param.domain is not None and param.domain.log:  # type: ignore[attr-defined]
                raw[param.name] = math.log(float(value))
            else:
                raw[param.name] = float(value)
        return raw

    def _register(self, raw: dict[str, float], value: float) -> None:
        self._optimizer.register(params=raw, target=value if self._mode == "max" else -value)
        self._registered += 1

    def _decode(self, raw: dict[str, Any]) -> dict[Any, Any]:
        values = {}
        for param in self._params:
            x = float(raw[param.name])
            d = param.domain
            if isinstance(d, Float):
                x = math.exp(x) if d.log else x
                if d.q is not None:
                    x = float(np.round(x / d.q) * d.q)
                values[param.path] = min(max(x, d.low), d.high)
            elif isinstance(d, Integer):
                x = math.exp(x) if d.log else x
                k = int(np.round(x / d.q))
                values[param.path] = min(max(k * d.q, d.low), d.high)
            else:
                values[param.path] = x
        return values

    def _next_raw(self) -> dict[str, float] | None:
        bo = _bayes_opt()
        if self._pending:
            return self._pending.pop(0)
        if self._random_made < self._random_search_steps or self._registered == 0:
            if self._random_made >= self._random_search_steps and self._live:
                return None  # nothing registered yet: wait for a result rather than guess
            self._random_made += 1
            return self._raw({})
        if self._random_live:
            return None  # the Gaussian process starts from all the random results
        if self._live and self._waiting_at == self._registered:
            return None  # same data, same answer: wait for a result
        with _one_blas_thread():
            if hasattr(bo, "UtilityFunction"):  # the 1.x API
                utility = bo.UtilityFunction(
                    kind=self._utility["kind"],
                    kappa=self._utility["kappa"],
                    xi=self._utility["xi"],
                    kappa_decay=self._utility.get("kappa_decay", 1),
                    kappa_decay_delay=self._utility.get("kappa_decay_delay", 0),
                )
                return dict(self._optimizer.suggest(utility))
            return dict(self._optimizer.suggest())

    # -- the searcher interface ------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._optimizer is None:
            self._check_ready()
            self._start()
        random_phase = self._random_made < self._random_search_steps and not self._pending
        raw = self._next_raw()
        if raw is None:
            return None
        values = self._decode(raw)
        key = _key(values)
        if key in self._live_keys.values():
            self._waiting_at = self._registered
            return None  # the same config is running: wait for its result
        self._waiting_at = None
        repeated = key in self._seen
        self._seen[key] += 1
        if repeated and self._patience is not None and self._seen[key] > self._patience:
            return Searcher.FINISHED
        if repeated and self._skip_duplicate:
            if not self._live:
                # Nothing running could change the model's mind: explore instead of waiting.
                values = self._decode(raw := self._raw({}))
                key = _key(values)
                self._seen[key] += 1
            else:
                self._waiting_at = self._registered
                return None
        self._live[trial_id] = raw
        self._live_keys[trial_id] = key
        if random_phase:
            self._random_live.add(trial_id)
        return build_suggestion(values, self._space)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        raw = self._live.pop(trial_id, None)
        self._live_keys.pop(trial_id, None)
        self._random_live.discard(trial_id)
        if raw is None or error:
            return
        assert self._metric is not None
        value = metric_value(result, self._metric)
        if value is not None:
            self._register(raw, value)

    # -- state -------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything, the optimizer with its observations included; the controller (and
        :meth:`save`) pickle it with cloudpickle."""
        state = dict(self.__dict__)
        state["_analysis"] = None  # already registered; it may hold a DataFrame cache
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(cloudpickle.loads(cloudpickle.dumps(state)))


def _key(values: dict[Any, Any]) -> tuple[Any, ...]:
    """A config's identity for spotting repeats (floats to 5 decimals, as in Ray)."""
    return tuple(round(v, 5) if isinstance(v, float) else v for v in values.values())


def _is_bounds(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
    )


def _bounds(param: Param) -> tuple[float, float]:
    """The package's (lower, upper) for one parameter; raises for what it cannot express."""
    d = param.domain
    if d is None:
        lo, hi = param.native
        if not lo < hi:
            raise ValueError(
                f"parameter '{param.name}' has bounds {param.native!r}, but lower must be < upper"
            )
        return float(lo), float(hi)
    if isinstance(d, Categorical):
        raise unsupported("BayesOpt", param, _WHY_CATEGORICAL)
    if isinstance(d, Normal):
        raise unsupported("BayesOpt", param, "it needs bounds; use tune.uniform")
    if isinstance(d, Float):
        lo, hi = d.low, d.high
        if d.q is not None:
            lo, hi = lo - _HALF * d.q, hi + _HALF * d.q
            lo = max(lo, d.lower) if d.log else lo
    elif isinstance(d, Integer):
        lo, hi = d.low - _HALF * d.q, d.high + _HALF * d.q
        lo = max(lo, d.low / 2) if d.log else lo
    else:
        raise unsupported("BayesOpt", param, "it is not a numeric range")
    if d.log:
        return math.log(lo), math.log(hi)
    return float(lo), float(hi)


def _acquisition(utility: dict[str, Any]) -> Any:
    """The 2.x/3.x acquisition function object, or None for the 1.x API."""
    try:
        acquisition = importlib.import_module("bayes_opt.acquisition")
    except ImportError:
        return None
    decay = {
        "exploration_decay": utility.get("kappa_decay"),
        "exploration_decay_delay": utility.get("kappa_decay_delay"),
    }
    if utility["kind"] == "ucb":
        return acquisition.UpperConfidenceBound(kappa=utility["kappa"], **decay)
    if utility["kind"] == "ei":
        return acquisition.ExpectedImprovement(xi=utility["xi"], **decay)
    return acquisition.ProbabilityOfImprovement(xi=utility["xi"], **decay)


def _one_blas_thread() -> Any:
    """One BLAS thread while the Gaussian process is fitted: its matrices are small, and
    threads fighting the trials for the cores made each suggestion several times slower."""
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")  # scikit-learn requires it
    except ImportError:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=1)


def _check_count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} is {value!r}, but must be an integer >= {minimum}")
