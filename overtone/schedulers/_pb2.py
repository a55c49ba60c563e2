"""Population Based Bandits (PB2), Parker-Holder et al., "Provably Efficient Online
Hyperparameter Optimization with Population-Based Bandits" (NeurIPS 2020).

PBT's exploit, with a model-based explore: the improvement rate of the metric between two
perturbations, as a function of (time, metric before, hyperparameters), is fitted with a
Gaussian process (scikit-learn's ``GaussianProcessRegressor``), and the new hyperparameters
maximize an upper confidence bound at the cloned trial's (time, metric). Configs already
chosen in the same round count as pending points, which shrink the bound's variance near
them so that one round does not pick the same point twice (as in GP-BUCB).
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from overtone._checks import import_optional
from overtone._trial import FrozenTrial
from overtone.schedulers._pbt import PopulationBasedTraining, _TrialState

_MAX_POINTS = 300  # the GP is fitted on the latest segments only: O(n^3)
_CANDIDATES = 1000
_FIT_ITERATIONS = 25  # L-BFGS-B steps on the kernel's hyperparameters, from the last fit's


def _fit_hyperparameters(objective: Any, theta: np.ndarray, bounds: np.ndarray) -> Any:
    """scikit-learn's own optimizer, with fewer steps: each fit starts from the last one."""
    from scipy.optimize import minimize  # scikit-learn depends on SciPy

    found = minimize(
        objective,
        theta,
        method="L-BFGS-B",
        jac=True,
        bounds=bounds,
        options={"maxiter": _FIT_ITERATIONS},
    )
    return found.x, found.fun


def _sklearn() -> Any:
    import_optional("sklearn", "PB2", "pb2", package="scikit-learn")
    return import_optional("sklearn.gaussian_process", "PB2", "pb2", package="scikit-learn")


def flatten_bounds(
    bounds: Any, prefix: tuple[Any, ...] = ()
) -> list[tuple[tuple[Any, ...], float, float]]:
    """``[(path, low, high)]`` of ``hyperparam_bounds`` (nested dicts allowed); ValueError
    naming the key of a bound that is not ``[low, high]`` with ``low < high``."""
    if not isinstance(bounds, dict):
        raise ValueError(f"hyperparam_bounds is {bounds!r}, but must be a dict of [low, high]")
    out = []
    for key, value in bounds.items():
        path = (*prefix, key)
        name = "/".join(str(p) for p in path)
        if isinstance(value, dict):
            if not value:
                raise ValueError(f"hyperparam_bounds['{name}'] is an empty dict")
            out += flatten_bounds(value, path)
            continue
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
            and all(math.isfinite(v) for v in value)
            and value[0] < value[1]
        )
        if not ok:
            raise ValueError(
                f"hyperparam_bounds['{name}'] is {value!r}, but must be [low, high] with "
                "finite numbers and low < high"
            )
        out.append((path, float(value[0]), float(value[1])))
    return out


def _get(config: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config


def _set(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        config = config.setdefault(key, {})
    config[path[-1]] = value


class PB2(PopulationBasedTraining):
    """PBT whose explore step picks new hyperparameters with a GP bandit (``pip install
    'overtone[pb2]'``).

    Args:
        time_attr, metric, mode, perturbation_interval, quantile_fraction, log_config,
            require_attrs, synch, custom_explore_fn: as in
            :class:`PopulationBasedTraining`.
        hyperparam_bounds: ``{name: [low, high]}`` (nested dicts for nested configs): the
            continuous hyperparameters to search. Integer values (with integer bounds) stay
            integers. Each trial's config must hold them: sample them in the param space,
            e.g. ``tune.uniform(low, high)``.
        seed: seeds every random choice and the GP (default: the experiment's ``seed``).

    Example::

        pb2 = PB2(time_attr="training_iteration", metric="reward", mode="max",
                  perturbation_interval=10, hyperparam_bounds={"lr": [1e-4, 1e-1]})
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        hyperparam_bounds: dict[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        _sklearn()
        if not hyperparam_bounds:
            raise ValueError(
                f"hyperparam_bounds is {hyperparam_bounds!r}, but PB2 needs at least one "
                "[low, high] bound to search"
            )
        self._bounds = flatten_bounds(hyperparam_bounds)
        super().__init__(
            time_attr=time_attr,
            metric=metric,
            mode=mode,
            perturbation_interval=perturbation_interval,
            hyperparam_mutations=None,
            quantile_fraction=quantile_fraction,
            resample_probability=0.0,
            custom_explore_fn=custom_explore_fn,
            log_config=log_config,
            require_attrs=require_attrs,
            synch=synch,
            seed=seed,
        )
        self._hyperparam_bounds = hyperparam_bounds
        # Segments between two perturbations of one trial with one config:
        # (time, signed score before, hyperparameters in [0, 1], improvement per time unit).
        self._segments: list[tuple[float, float, tuple[float, ...], float]] = []
        self._last_point: dict[str, tuple[float, float, tuple[float, ...]]] = {}
        self._batch: list[tuple[float, ...]] = []
        self._batch_time = -math.inf
        self._max_time = -math.inf
        self._theta: np.ndarray | None = None  # the kernel's last fitted hyperparameters
        self._theta_points = 0  # on how many segments

    def _check_explore(self) -> None:
        """PB2 explores within its bounds: no mutations needed."""

    # -- data -----------------------------------------------------------------------------
    def _encode(self, trial_id: str, config: dict[str, Any]) -> tuple[float, ...]:
        x = []
        for path, low, high in self._bounds:
            value = _get(config, path)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                name = "/".join(str(p) for p in path)
                raise ValueError(
                    f"PB2 searches {name!r} in [{low:g}, {high:g}], but trial {trial_id}'s "
                    f"config has {value!r} there: sample it in the param space, e.g. "
                    f"tune.uniform({low:g}, {high:g})"
                )
            x.append(min(max((float(value) - low) / (high - low), 0.0), 1.0))
        return tuple(x)

    def _on_perturbation_result(
        self, trial: FrozenTrial, state: _TrialState, t: float, score: float
    ) -> None:
        x = self._encode(trial.trial_id, trial.config)
        previous = self._last_point.get(trial.trial_id)
        if previous is not None and previous[2] == x and t > previous[0]:
            rate = (score - previous[1]) / (t - previous[0])
            if math.isfinite(rate):
                self._segments.append((t, previous[1], x, rate))
                self._max_time = max(self._max_time, t)
        self._last_point[trial.trial_id] = (t, score, x)
        if len(self._segments) > 4 * _MAX_POINTS:
            del self._segments[:-_MAX_POINTS]

    # -- explore --------------------------------------------------------------------------
    def _new_config(
        self, trial_id: str, state: _TrialState, source_id: str, source: _TrialState
    ) -> dict[str, Any]:
        point = self._last_point.get(source_id)
        if point is None:
            fixed = (source.last_train_time, source.last_score or 0.0)
        else:
            fixed = (point[0], point[1])
        if self._max_time > self._batch_time:  # a new round: forget last round's picks
            self._batch = []
            self._batch_time = self._max_time
        x = self._select(fixed)
        self._batch.append(x)
        new_config = copy.deepcopy(source.config)
        for (path, low, high), u in zip(self._bounds, x):
            value: Any = low + u * (high - low)
            old = _get(source.config, path)
            if isinstance(old, int) and low == int(low) and high == int(high):
                value = int(min(max(round(value), low), high))
            _set(new_config, path, value)
        self._last_point[trial_id] = (fixed[0], fixed[1], self._encode(trial_id, new_config))
        return new_config

    def _select(self, fixed: tuple[float, float]) -> tuple[float, ...]:
        """The hyperparameters (in [0, 1]) that maximize the UCB at ``fixed``."""
        if len(self._segments) < 2:
            return tuple(float(v) for v in self._rng.random(len(self._bounds)))
        try:  # a dependency of scikit-learn
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover
            return self._select_with_gp(fixed)
        # These matrices are small: BLAS threads only add overhead, a lot on a busy machine.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._select_with_gp(fixed)

    def _select_with_gp(self, fixed: tuple[float, float]) -> tuple[float, ...]:
        k = len(self._bounds)
        data = self._segments[-_MAX_POINTS:]
        gp_module = _sklearn()
        kernels = import_optional(
            "sklearn.gaussian_process.kernels", "PB2", "pb2", package="scikit-learn"
        )
        raw = np.array([[t, r, *x] for t, r, x, _ in data], dtype=float)
        y = np.array([rate for *_, rate in data], dtype=float)
        # Time and metric scaled to [0, 1] over the data and the point asked about.
        low = np.minimum(raw[:, :2].min(axis=0), fixed)
        span = np.maximum(raw[:, :2].max(axis=0), fixed) - low
        span[span == 0] = 1.0
        z = raw.copy()
        z[:, :2] = (raw[:, :2] - low) / span
        head = (np.asarray(fixed, dtype=float) - low) / span
        y_std = y.std()
        y = (y - y.mean()) / (y_std if y_std > 0 else 1.0)
        kernel = kernels.ConstantKernel(1.0, (1e-3, 1e3)) * kernels.RBF(
            np.ones(k + 2), (1e-2, 1e2)
        ) + kernels.WhiteKernel(1e-2, (1e-6, 1e1))
        # The kernel's hyperparameters are fitted again once the data grew by a quarter;
        # in between, the last ones are kept (a fit costs much more than a prediction).
        refit = self._theta is None or len(data) >= 1.25 * self._theta_points
        if self._theta is not None:
            kernel = kernel.clone_with_theta(self._theta)
        gp = gp_module.GaussianProcessRegressor(
            kernel=kernel,
            optimizer=_fit_hyperparameters if refit else None,
            random_state=int(self._rng.integers(2**31 - 1)),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence and bound warnings of the fit
            gp.fit(z, y)
            uncertain = gp
            if self._batch:  # the variance as if this round's picks were observed already
                pending = np.array([[*head, *b] for b in self._batch])
                both = np.vstack([z, pending])
                uncertain = gp_module.GaussianProcessRegressor(kernel=gp.kernel_, optimizer=None)
                uncertain.fit(both, np.concatenate([y, gp.predict(pending)]))
        if refit:
            self._theta = gp.kernel_.theta
            self._theta_points = len(data)
        kappa = math.sqrt(0.2 + max(0.0, math.log(0.4 * len(data))))

        def ucb(xs: np.ndarray) -> np.ndarray:
            points = np.hstack([np.broadcast_to(head, (len(xs), 2)), xs])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mean = gp.predict(points)
                _, sd = uncertain.predict(points, return_std=True)
            return mean + kappa * sd

        candidates = self._rng.random((_CANDIDATES, k))
        values = ucb(candidates)
        best = candidates[int(np.argmax(values))]
        best_value = float(values.max())
        from scipy.optimize import minimize

        refined = minimize(
            lambda v: -float(ucb(np.asarray(v).reshape(1, -1))[0]),
            best,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * k,
            options={"maxiter": 20},
        )
        if refined.success and -float(refined.fun) > best_value:
            best = np.clip(refined.x, 0.0, 1.0)
        return tuple(float(v) for v in best)
