"""``TuneBOHB``: the model half of BOHB (``pip install 'overtone[bohb]'``).

Falkner et al., "BOHB: Robust and Efficient Hyperparameter Optimization at Scale" (ICML 2018).
For each budget (a rung's milestone, told by :class:`~overtone.tune.schedulers.HyperBandForBOHB`
in ``result["hyperband_info"]["budget"]``) it keeps the observed (config, loss) pairs. From the
largest budget with enough of them it fits two kernel density estimates (statsmodels'
``KDEMultivariate``), ``l`` over the best ``top_n_percent`` configs and ``g`` over the rest, and
suggests the candidate maximizing ``l(x) / g(x)`` among ``num_samples`` drawn around good
configs; a ``random_fraction`` of suggestions (and all of them before there is a model) is
drawn from the space at random.

statsmodels is imported when a ``TuneBOHB`` is made, not when this module is.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from overtone._checks import import_optional
from overtone.search._convert import (
    AdapterSearcher,
    Param,
    build_suggestion,
    check_points,
    decoder,
    metric_value,
    parse_space,
    point_values,
    unsupported,
)
from overtone.space._domains import Categorical, Float, Integer

_DEFAULTS: dict[str, Any] = {
    "min_points_in_model": None,
    "top_n_percent": 15,
    "num_samples": 64,
    "random_fraction": 1 / 3,
    "bandwidth_factor": 3,
    "min_bandwidth": 1e-3,
}


def _kde() -> Any:
    return import_optional(
        "statsmodels.nonparametric.kernel_density", "TuneBOHB", "bohb", package="statsmodels"
    )


class _Dim:
    """One searched parameter as the model sees it: a float in [0, 1] (``kind="c"``) or a
    category index (``kind="u"``)."""

    def __init__(self, param: Param) -> None:
        d = param.domain
        self.param = param
        self.levels = 0
        self.log = False
        if isinstance(d, Categorical):
            self.kind = "u"
            self.levels = len(d.categories)
            self.categories = d.categories
            return
        if isinstance(d, Float):
            lo, hi = d.low, d.high
        elif isinstance(d, Integer):
            lo, hi = d.low - 0.5, d.high + 0.5  # each integer gets an equal slice
        else:
            raise unsupported(
                "BOHB", param, "its model needs bounds; use tune.uniform or tune.quniform"
            )
        self.kind = "c"
        self.log = bool(d.log)
        self.lo, self.hi = (math.log(lo), math.log(hi)) if self.log else (lo, hi)

    def encode(self, value: Any) -> float:
        if self.kind == "u":
            for i, c in enumerate(self.categories):
                if c is value or c == value:
                    return float(i)
            return 0.0
        x = math.log(value) if self.log else float(value)
        if self.hi == self.lo:
            return 0.5
        return min(max((x - self.lo) / (self.hi - self.lo), 0.0), 1.0)

    def value(self, v: float) -> Any:
        if self.kind == "u":
            return self.categories[min(max(int(round(v)), 0), self.levels - 1)]
        x = self.lo + min(max(v, 0.0), 1.0) * (self.hi - self.lo)
        raw = math.exp(x) if self.log else x
        decode = None if self.param.domain is None else decoder(self.param.domain)
        return raw if decode is None else decode(raw)


class TuneBOHB(AdapterSearcher):
    """BOHB's searcher: a kernel density model per budget (``ray.tune.search.bohb.TuneBOHB``).

    Use it with :class:`~overtone.tune.schedulers.HyperBandForBOHB`. With another scheduler
    there are no budgets, and it learns from each trial's final result only.

    Args:
        space: the parameters to search (``tune.uniform``, ``tune.loguniform``,
            ``tune.randint``, ``tune.choice``, their ``q`` forms); default: the param space.
            ``tune.randn`` has no bounds and is not supported.
        bohb_config: BOHB's settings: ``min_points_in_model`` (default: dimensions + 1),
            ``top_n_percent`` (15), ``num_samples`` (64), ``random_fraction`` (1/3),
            ``bandwidth_factor`` (3), ``min_bandwidth`` (1e-3).
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: configs (full or partial) to try first.
        seed: seeds every random choice (default: the experiment's ``seed``).
        max_concurrent: suggest nothing while this many of its trials run (0: no limit).
    """

    library = "BOHB"

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        bohb_config: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        seed: int | None = None,
        max_concurrent: int = 0,
    ) -> None:
        _kde()
        super().__init__(metric=metric, mode=mode)
        settings = dict(_DEFAULTS)
        for key, value in (bohb_config or {}).items():
            if key not in _DEFAULTS:
                raise ValueError(
                    f"bohb_config has {key!r}, but the known settings are {sorted(_DEFAULTS)}"
                )
            settings[key] = value
        _check_settings(settings)
        if (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or (max_concurrent < 0)
        ):
            raise ValueError(f"max_concurrent is {max_concurrent!r}, but must be an int >= 0")
        self._settings = settings
        self._max_concurrent = max_concurrent
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._points, _ = check_points(points_to_evaluate, None)
        self._space: dict[str, Any] | None = None
        self._dims: list[_Dim] = []
        self._observations: dict[float, list[tuple[list[float], float]]] = {}
        self._vectors: dict[str, list[float]] = {}
        self._observed: set[str] = set()
        self._live: set[str] = set()
        self._paused: set[str] = set()
        self._warned = False
        if space:
            self._set_space(space)
            self._space_from_init = True
        elif space is not None and not isinstance(space, dict):
            raise ValueError(f"space is {space!r}, but must be a dict or None")

    # -- the space ------------------------------------------------------------------------
    def _has_space(self) -> bool:
        return bool(self._dims)

    def _set_space(self, space: dict[str, Any]) -> None:
        params = parse_space(space, "BOHB")
        dims = [_Dim(p) for p in params]
        for i, point in enumerate(self._points):
            point_values(point, params, i)
        self._space, self._dims = space, dims

    def _take_seed(self, seed: Any) -> None:
        if self._seed is None and seed is not None:
            self._seed = seed
            self._rng = np.random.default_rng(seed)

    # -- suggestions ----------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        self._check_ready()
        if self._max_concurrent and len(self._live - self._paused) >= self._max_concurrent:
            return None
        params = [d.param for d in self._dims]
        if self._points:
            given = point_values(self._points.pop(0), params, 0)
            values = {d.param.name: given.get(d.param.name, _MISSING) for d in self._dims}
            for d in self._dims:
                if values[d.param.name] is _MISSING:
                    values[d.param.name] = d.param.domain.sample(self._rng)  # type: ignore[union-attr]
        else:
            vector = None
            if self._rng.random() >= self._settings["random_fraction"]:
                vector = self._from_model()
            if vector is None:
                values = {d.param.name: d.param.domain.sample(self._rng) for d in self._dims}  # type: ignore[union-attr]
            else:
                values = {d.param.name: d.value(v) for d, v in zip(self._dims, vector)}
        self._vectors[trial_id] = [d.encode(values[d.param.name]) for d in self._dims]
        self._live.add(trial_id)
        return build_suggestion(
            {d.param.path: values[d.param.name] for d in self._dims}, self._space
        )

    def _from_model(self) -> list[float] | None:
        """A vector maximizing l/g on the largest budget with enough data, or None."""
        dims = len(self._dims)
        settings = self._settings
        n_min = settings["min_points_in_model"] or dims + 1
        budgets = sorted(
            (b for b, obs in self._observations.items() if len(obs) >= n_min + 2), reverse=True
        )
        for budget in budgets:
            obs = self._observations[budget]
            x = np.array([v for v, _ in obs], dtype=float)
            losses = np.array([loss for _, loss in obs], dtype=float)
            n = len(losses)
            n_good = max(n_min, (settings["top_n_percent"] * n) // 100)
            n_bad = max(n_min, ((100 - settings["top_n_percent"]) * n) // 100)
            order = np.argsort(losses, kind="stable")
            good, bad = x[order[:n_good]], x[order[n_good : n_good + n_bad]]
            if len(good) <= dims or len(bad) <= dims:
                continue
            return self._sample_model(good, bad)
        return None

    def _fit(self, data: np.ndarray) -> Any:
        kinds = "".join(d.kind for d in self._dims)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kde = _kde().KDEMultivariate(data=data, var_type=kinds, bw="normal_reference")
        bw = np.clip(np.asarray(kde.bw, dtype=float), self._settings["min_bandwidth"], None)
        for i, d in enumerate(self._dims):
            if d.kind == "u":  # beyond (c - 1) / c the categorical kernel turns upside down
                bw[i] = min(bw[i], (d.levels - 1) / d.levels if d.levels > 1 else 1.0)
        kde.bw = bw
        return kde

    def _sample_model(self, good: np.ndarray, bad: np.ndarray) -> list[float] | None:
        from scipy.stats import truncnorm  # a dependency of statsmodels

        l_kde, g_kde = self._fit(good), self._fit(bad)
        count = int(self._settings["num_samples"])
        rng = self._rng
        picks = good[rng.integers(len(good), size=count)]
        candidates = np.empty_like(picks)
        for i, d in enumerate(self._dims):
            bw = max(float(l_kde.bw[i]), self._settings["min_bandwidth"])
            centers = picks[:, i]
            if d.kind == "c":
                scale = self._settings["bandwidth_factor"] * bw
                candidates[:, i] = truncnorm.rvs(
                    -centers / scale,
                    (1 - centers) / scale,
                    loc=centers,
                    scale=scale,
                    size=count,
                    random_state=rng,
                )
            else:
                keep = rng.random(count) < 1 - bw
                fresh = rng.integers(d.levels, size=count)
                candidates[:, i] = np.where(keep, np.round(centers), fresh)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ratio = np.maximum(l_kde.pdf(candidates), 1e-32) / np.maximum(
                g_kde.pdf(candidates), 1e-32
            )
        ratio = np.where(np.isfinite(ratio), ratio, -np.inf)
        best = int(np.argmax(ratio))
        if not np.isfinite(ratio[best]):
            return None
        return [float(v) for v in candidates[best]]

    # -- results --------------------------------------------------------------------------
    def _loss(self, result: dict[str, Any] | None) -> float:
        value = metric_value(result, str(self._metric))
        if value is None:
            return math.inf
        return value if self._mode == "min" else -value

    def _observe(self, trial_id: str, budget: float, result: dict[str, Any] | None) -> None:
        vector = self._vectors.get(trial_id)
        if vector is None:
            return
        self._observations.setdefault(float(budget), []).append((vector, self._loss(result)))
        self._observed.add(trial_id)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        info = result.get("hyperband_info")
        if not isinstance(info, dict):
            if not self._warned:
                self._warned = True
                warnings.warn(
                    "TuneBOHB got a result without 'hyperband_info': use HyperBandForBOHB as "
                    "the scheduler; until then it learns from final results only",
                    UserWarning,
                    stacklevel=2,
                )
            return
        budget = info.get("budget")
        if budget is None:
            self._paused.discard(trial_id)
            return
        self._observe(trial_id, budget, result)
        self._paused.add(trial_id)  # a rung's end: it may wait there for its bracket

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id not in self._observed and not error and result:
            budget = result.get("training_iteration", 0)
            self._observe(trial_id, budget if isinstance(budget, (int, float)) else 0, result)
        self._live.discard(trial_id)
        self._paused.discard(trial_id)
        self._vectors.pop(trial_id, None)
        self._observed.discard(trial_id)

    def on_pause(self, trial_id: str) -> None:
        """The trial was paused (it does not count against ``max_concurrent``)."""
        self._paused.add(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self._paused.discard(trial_id)


_MISSING: Any = object()


def _check_settings(settings: dict[str, Any]) -> None:
    def number(key: str, low: float, high: float | None = None) -> None:
        value = settings[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            rule = f">= {low:g}" if high is None else f"between {low:g} and {high:g}"
            raise ValueError(f"bohb_config['{key}'] is {value!r}, but must be a number {rule}")

    if settings["min_points_in_model"] is not None:
        number("min_points_in_model", 1)
    number("top_n_percent", 1, 99)
    number("num_samples", 1)
    number("random_fraction", 0, 1)
    number("bandwidth_factor", 0)
    number("min_bandwidth", 0)
