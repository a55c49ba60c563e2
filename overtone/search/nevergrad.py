"""``NevergradSearch``: any Nevergrad optimizer as an Overtone searcher
(``pip install 'overtone[nevergrad]'``).

Nevergrad is imported when a ``NevergradSearch`` is made, not when this module is.
"""

from __future__ import annotations

import inspect
from typing import Any

import cloudpickle
import numpy as np

from overtone._checks import import_optional
from overtone.search._convert import (
    AdapterSearcher,
    Param,
    build_suggestion,
    category_index,
    check_points,
    decoder,
    flatten_point,
    metric_value,
    parse_space,
    plain,
    point_values,
    unflatten_names,
)
from overtone.space._domains import Categorical, Float, Integer, Normal


def _nevergrad() -> Any:
    return import_optional("nevergrad", "NevergradSearch", "nevergrad")


class NevergradSearch(AdapterSearcher):
    """Suggests configs with a Nevergrad optimizer (``ray.tune.search.nevergrad.NevergradSearch``).

    Nevergrad's contract is that at most ``num_workers`` candidates are out at once (some of
    its optimizers block otherwise), so this searcher waits (suggests nothing) while
    ``num_workers`` trials are running: pass ``optimizer_kwargs={"num_workers": 4}`` to let
    four trials run at a time.

    Args:
        optimizer: an optimizer class or configured optimizer (``ng.optimizers.OnePlusOne``,
            ``ng.optimizers.CMA``), its name in ``ng.optimizers.registry``, or an optimizer
            instance, whose parametrization is then the space. Default: ``NGOpt``.
        optimizer_kwargs: passed when the optimizer is made (``budget``, ``num_workers``);
            ``budget`` defaults to the experiment's ``num_samples``.
        space: the parameters to search, as Overtone domains or Nevergrad parameters
            (``{"lr": ng.p.Log(lower=1e-4, upper=1e-1)}``, or a whole ``ng.p.Dict``). Without
            it, the experiment's param space is searched.
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: configs to try first (partial ones are completed at random).
        seed: seeds the parametrization's random state (default: the experiment's ``seed``).
        evaluated_rewards: the metric values of ``points_to_evaluate`` if they were already
            evaluated: they are told to the optimizer instead of being run again.
    """

    library = "Nevergrad"

    def __init__(
        self,
        optimizer: Any = None,
        optimizer_kwargs: dict[str, Any] | None = None,
        space: dict[str, Any] | Any | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        seed: int | None = None,
        evaluated_rewards: list[float] | None = None,
    ) -> None:
        ng = _nevergrad()
        super().__init__(metric=metric, mode=mode)
        self._factory: Any = None
        self._optimizer: Any = None
        if isinstance(optimizer, str):
            if optimizer not in ng.optimizers.registry:
                raise ValueError(
                    f"optimizer is {optimizer!r}, which is not a name in "
                    "nevergrad.optimizers.registry"
                )
            self._factory = ng.optimizers.registry[optimizer]
        elif isinstance(optimizer, ng.optimizers.base.Optimizer):
            if space is not None:
                raise ValueError(
                    "optimizer is a Nevergrad optimizer instance, whose parametrization is "
                    "the space: pass space=None (or pass the optimizer class instead)"
                )
            if optimizer_kwargs:
                raise ValueError(
                    "optimizer_kwargs are for making the optimizer, but optimizer is already "
                    "an instance"
                )
            self._optimizer = optimizer
            self._space_from_init = True
        elif optimizer is None or _is_factory(ng, optimizer):
            self._factory = optimizer
        else:
            raise ValueError(
                f"optimizer is {optimizer!r}, but must be a Nevergrad optimizer class, "
                "configured optimizer, registry name or instance"
            )
        if optimizer_kwargs is not None and not isinstance(optimizer_kwargs, dict):
            raise ValueError(f"optimizer_kwargs is {optimizer_kwargs!r}, but must be a dict")
        self._optimizer_kwargs = dict(optimizer_kwargs or {})
        self._seed = seed
        self._points, self._rewards = check_points(points_to_evaluate, evaluated_rewards)
        self._space: Any = None
        self._parametrization: Any = None  # made at the first suggestion
        self._params: list[Param] = []
        self._decoders: list[tuple[str, Any, Any]] = []
        self._choices: dict[str, list[Any]] = {}
        self._rng: np.random.Generator | None = None
        self._live: dict[str, Any] = {}  # trial id -> candidate
        self._started = False
        if space is not None and self._optimizer is None:
            if isinstance(space, ng.p.Parameter):
                self._space = space
                self._points_checked()
            elif space:
                self._set_space(space)
            self._space_from_init = True

    # -- the space -------------------------------------------------------------------------------
    def _is_native(self, value: Any) -> bool:
        return isinstance(value, _nevergrad().p.Parameter)

    def _has_space(self) -> bool:
        return self._optimizer is not None or self._space is not None

    def _set_space(self, space: dict[str, Any]) -> None:
        if self._started:
            params = parse_space(space, "Nevergrad", self._is_native)
            if [p.name for p in params] != [p.name for p in self._params]:
                raise ValueError(
                    "the param space searches other parameters than this NevergradSearch "
                    "(restored) did"
                )
            return
        params = parse_space(space, "Nevergrad", self._is_native)
        decoders, choices = [], {}
        for param in params:
            decode = None if param.domain is None else _decoder(param.domain)
            decoders.append((param.name, param.path, decode))
            if isinstance(param.domain, Categorical):
                choices[param.name] = param.domain.categories
        self._space, self._params, self._decoders, self._choices = space, params, decoders, choices
        self._points_checked()

    def _points_checked(self) -> None:
        complete = self._rewards is not None
        for i, point in enumerate(self._points):
            if self._params:
                point_values(point, self._params, i, complete=complete)

    def _take_seed(self, seed: Any) -> None:
        if self._seed is None and seed is not None:
            self._seed = seed

    # -- the optimizer ---------------------------------------------------------------------------
    def _start(self) -> None:
        ng = _nevergrad()
        self._rng = np.random.default_rng(self._seed)
        if self._optimizer is None:
            if isinstance(self._space, ng.p.Parameter):
                parametrization = self._space
            else:
                parametrization = ng.p.Dict(**{p.name: _parameter(ng, p) for p in self._params})
            if self._seed is not None:
                parametrization.random_state = np.random.RandomState(self._seed)
            kwargs = dict(self._optimizer_kwargs)
            if "budget" not in kwargs and self._num_samples is not None:
                kwargs["budget"] = self._num_samples
            factory = self._factory if self._factory is not None else ng.optimizers.NGOpt
            self._optimizer = factory(parametrization=parametrization, **kwargs)
        elif self._seed is not None and self._optimizer.num_ask == 0:
            self._optimizer.parametrization.random_state = np.random.RandomState(self._seed)
        self._parametrization = self._optimizer.parametrization
        sign = 1.0 if self._mode == "min" else -1.0
        for i, point in enumerate(self._points):
            value = self._native_value(i, point)
            if self._rewards is None:
                self._suggest_point(value)
            else:
                candidate = self._parametrization.spawn_child(new_value=value)
                self._optimizer.tell(candidate, sign * float(self._rewards[i]))
        self._started = True

    def _native_value(self, index: int, point: dict[str, Any]) -> Any:
        """A point as the parametrization's value (categories as their index)."""
        if not self._params:  # a Nevergrad parametrization of the user's: flat names
            return flatten_point(point)
        assert self._rng is not None
        values = point_values(point, self._params, index)
        for param in self._params:
            if param.name not in values:
                if param.domain is None:
                    raise ValueError(
                        f"points_to_evaluate[{index}] has no value for '{param.name}', which "
                        "a Nevergrad parameter needs"
                    )
                values[param.name] = param.domain.sample(self._rng)
            if param.name in self._choices:
                values[param.name] = category_index(self._choices[param.name], values[param.name])
        return values

    def _suggest_point(self, value: Any) -> None:
        ng = _nevergrad()
        if isinstance(self._parametrization, ng.p.Instrumentation):
            self._optimizer.suggest(**value)
        else:
            self._optimizer.suggest(value)

    # -- the searcher interface ------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if not self._started:
            self._check_ready()
            self._start()
        if len(self._live) >= self._optimizer.num_workers:
            return None  # Nevergrad's limit; some optimizers would block on one more ask
        candidate = self._optimizer.ask()
        self._live[trial_id] = candidate
        if self._params:
            value = candidate.value
            values = {}
            for name, path, decode in self._decoders:
                raw = value[name]
                values[path] = plain(raw) if decode is None else decode(raw)
            return build_suggestion(values, self._space)
        return self._config_of(candidate)

    def _config_of(self, candidate: Any) -> dict[str, Any]:
        ng = _nevergrad()
        if isinstance(self._parametrization, ng.p.Instrumentation):
            value = candidate.kwargs
        else:
            value = candidate.value
        if not isinstance(value, dict):
            raise ValueError(
                f"the Nevergrad parametrization gives {value!r}, but must give a dict of "
                "named parameters (use ng.p.Dict or ng.p.Instrumentation with keywords)"
            )
        return unflatten_names(plain(value))

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        candidate = self._live.pop(trial_id, None)
        if candidate is None or error:
            return
        assert self._metric is not None
        value = metric_value(result, self._metric)
        if value is not None:
            self._optimizer.tell(candidate, value if self._mode == "min" else -value)

    # -- state -------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything, the optimizer included; the controller (and :meth:`save`) pickle it
        with cloudpickle."""
        return dict(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(cloudpickle.loads(cloudpickle.dumps(state)))


def _is_factory(ng: Any, optimizer: Any) -> bool:
    if isinstance(optimizer, ng.optimizers.base.ConfiguredOptimizer):
        return True
    return inspect.isclass(optimizer) and issubclass(optimizer, ng.optimizers.base.Optimizer)


def _parameter(ng: Any, param: Param) -> Any:
    """The Nevergrad parameter for one searched parameter."""
    d = param.domain
    if d is None:
        return param.native
    if isinstance(d, Categorical):
        return ng.p.Choice(list(range(len(d.categories))))
    if isinstance(d, Normal):
        return ng.p.Scalar(init=d.mean).set_mutation(sigma=d.sd)
    assert isinstance(d, (Float, Integer))
    if d.low == d.high:  # a single possible value (an Integer range of one)
        return ng.p.Scalar(init=float(d.low)).set_mutation(sigma=1e-9)
    if d.log:
        return ng.p.Log(lower=float(d.low), upper=float(d.high))
    return ng.p.Scalar(lower=float(d.low), upper=float(d.high))


def _decoder(domain: Any) -> Any:
    if isinstance(domain, Categorical):
        return decoder(domain, by_index=True)
    return decoder(domain)
