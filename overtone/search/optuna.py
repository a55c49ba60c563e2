"""``OptunaSearch``: any Optuna sampler as a searcher (``pip install 'overtone[optuna]'``).

Optuna is imported when an ``OptunaSearch`` is made, not when this module is.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from typing import Any

import cloudpickle

from overtone._checks import check_mode, import_optional
from overtone.search._conditional import has_conditional, resolve
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
    point_values,
    unflatten_names,
    unsupported,
)
from overtone.space._domains import Categorical, Float, Integer

_PRIMITIVE = (type(None), bool, int, float, str)


def _optuna() -> Any:
    return import_optional("optuna", "OptunaSearch", "optuna")


class OptunaSearch(AdapterSearcher):
    """Suggests configs with an Optuna sampler (``ray.tune.search.optuna.OptunaSearch``).

    Args:
        space: the parameters to search, as Overtone domains (``tune.uniform`` & co.), as
            Optuna distributions (``{"lr": FloatDistribution(1e-4, 1e-1, log=True)}``), or as
            a define-by-run function ``space(trial) -> dict | None`` that calls
            ``trial.suggest_*`` and may return constants to add to the config. Without it,
            the experiment's param space is searched. Nested names use ``/`` (``"model/lr"``).
        metric: the result key to optimize, or a list of keys for a multi-objective study.
        mode: ``"min"`` or ``"max"``, or a list of them, one per metric.
        points_to_evaluate: configs (full or partial) to try first.
        sampler: any Optuna sampler (TPE, CMA-ES, GP, NSGA-II, ...); default
            ``TPESampler(seed=seed)``.
        seed: the default sampler's seed (default: the experiment's ``seed``). A sampler you
            pass must be seeded by you.
        evaluated_rewards: the metric values of ``points_to_evaluate`` if they were already
            evaluated: they are told to the study instead of being run again.

    Example::

        from overtone import tune
        from overtone.tune.search.optuna import OptunaSearch

        tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                           tune_config=tune.TuneConfig(search_alg=OptunaSearch(seed=0),
                                                       metric="loss", mode="min",
                                                       num_samples=50))
    """

    supports_multi_objective = True

    library = "Optuna"

    def __init__(
        self,
        space: dict[str, Any] | Callable[[Any], dict[str, Any] | None] | None = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        sampler: Any = None,
        seed: int | None = None,
        evaluated_rewards: list[Any] | None = None,
    ) -> None:
        ot = _optuna()
        super().__init__(metric=None, mode=None)
        self._metric, self._mode = _check_objectives(metric, mode)  # type: ignore[assignment]
        if sampler is not None and not isinstance(sampler, ot.samplers.BaseSampler):
            raise ValueError(f"sampler is {sampler!r}, but must be an optuna sampler")
        if sampler is not None and seed is not None:
            warnings.warn(
                "OptunaSearch got both sampler= and seed=: seed only seeds the default "
                "sampler, so it is ignored; seed the sampler you pass instead",
                UserWarning,
                stacklevel=2,
            )
        self._sampler = sampler
        self._seed = seed
        self._points, self._rewards = check_points(
            points_to_evaluate, evaluated_rewards, multi=isinstance(metric, list)
        )
        self._space_fn: Callable[[Any], Any] | None = None
        self._space: dict[str, Any] | None = None
        self._params: list[Param] = []
        self._distributions: dict[str, Any] = {}
        self._decoders: list[tuple[str, Any, Any]] = []  # (name, path, decoder or None)
        self._encoders: dict[str, list[Any]] = {}  # names of categories picked by index
        self._study: Any = None
        self._conditional = False  # the space has branches: define-by-run
        self._live: dict[str, Any] = {}
        # A trial's latest (value, step), reported as an intermediate value once the next
        # result comes or, at the end, when it reported more than once: a one-result trial
        # (the common short trial) costs Optuna no report, whose value ``tell`` records.
        self._latest: dict[str, tuple[float, int]] = {}
        self._curves: set[str] = set()
        if callable(space):
            if evaluated_rewards is not None:
                raise ValueError(
                    "evaluated_rewards cannot be used with a define-by-run space function: "
                    "Optuna needs the distributions of the points to record them"
                )
            self._space_fn = space
            self._space_from_init = True
        elif space:
            self._set_space(space)
            self._space_from_init = True
        elif space is not None and not isinstance(space, dict):
            raise ValueError(f"space is {space!r}, but must be a dict, a function or None")

    # -- the space -----------------------------------------------------------------------------
    def _is_native(self, value: Any) -> bool:
        return isinstance(value, _optuna().distributions.BaseDistribution)

    def _has_space(self) -> bool:
        return self._space_fn is not None or bool(self._params) or self._conditional

    def _set_space(self, space: dict[str, Any]) -> None:
        if has_conditional(space):
            # Branches that search parameters of their own: asked define-by-run, along the
            # branch Optuna picks (see overtone.search._conditional).
            if self._points:
                raise ValueError(
                    "points_to_evaluate cannot be used with a conditional space (a tune.choice "
                    "whose branches search parameters): give the points as a search space "
                    "without branches, or leave them out"
                )
            self._space, self._conditional = space, True
            return
        params = parse_space(space, "Optuna", self._is_native)
        distributions, decoders, encoders = {}, [], {}
        for param in params:
            dist, decode, categories = _distribution(param)
            distributions[param.name] = dist
            decoders.append((param.name, param.path, decode))
            if categories is not None:
                encoders[param.name] = categories
        if self._study is not None and list(distributions) != list(self._distributions):
            raise ValueError(
                f"the param space searches {list(distributions)}, but this OptunaSearch "
                f"(restored) searches {list(self._distributions)}"
            )
        # Check the points now, at definition time, not at the first suggestion.
        for i, point in enumerate(self._points):
            point_values(point, params, i, complete=self._rewards is not None)
        self._space, self._params = space, params
        self._distributions, self._decoders, self._encoders = distributions, decoders, encoders

    def _take_seed(self, seed: Any) -> None:
        if self._seed is None and self._sampler is None and seed is not None:
            self._seed = seed

    def _check_ready(self) -> None:
        super()._check_ready()
        _check_objectives(self._metric, self._mode)
        if isinstance(self._metric, list) != isinstance(self._mode, list):
            raise ValueError(
                f"metric is {self._metric!r} and mode is {self._mode!r}: a list of metrics "
                "needs a list of modes of the same length"
            )

    # -- the study -------------------------------------------------------------------------------
    def _create_study(self) -> Any:
        ot = _optuna()
        modes = self._mode if isinstance(self._mode, list) else [self._mode]
        sampler = self._sampler or ot.samplers.TPESampler(seed=self._seed)
        verbosity = ot.logging.get_verbosity()
        ot.logging.set_verbosity(ot.logging.WARNING)  # not "A new study created" per experiment
        try:
            study = ot.create_study(
                sampler=sampler,
                pruner=ot.pruners.NopPruner(),
                directions=["minimize" if m == "min" else "maximize" for m in modes],
            )
        finally:
            ot.logging.set_verbosity(verbosity)
        for i, point in enumerate(self._points):
            if self._space_fn is not None:
                study.enqueue_trial(flatten_point(point))
                continue
            values = self._encode(point_values(point, self._params, i))
            if self._rewards is None:
                study.enqueue_trial(values)
                continue
            reward = self._rewards[i]
            study.add_trial(
                ot.trial.create_trial(
                    params=values,
                    distributions=self._distributions,
                    values=list(reward) if isinstance(reward, (list, tuple)) else [reward],
                )
            )
        return study

    def _encode(self, values: dict[str, Any]) -> dict[str, Any]:
        for name, categories in self._encoders.items():
            if name in values:
                values[name] = category_index(categories, values[name])
        return values

    # -- the searcher interface ------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._study is None:
            self._check_ready()
            self._study = self._create_study()
        if self._conditional:
            ot_trial = self._study.ask()
            suggestion = _ask_conditional(ot_trial, self._space)
        elif self._space_fn is not None:
            ot_trial = self._study.ask()
            constants = self._space_fn(ot_trial)
            if constants is not None and not isinstance(constants, dict):
                raise ValueError(
                    f"the define-by-run space function returned {constants!r}, but must "
                    "return a dict of constants or None"
                )
            suggestion = unflatten_names({**ot_trial.params, **(constants or {})})
        else:
            ot_trial = self._study.ask(fixed_distributions=self._distributions)
            params = ot_trial.params
            values = {}
            for name, path, decode in self._decoders:
                raw = params[name]
                values[path] = raw if decode is None else decode(raw)
            suggestion = build_suggestion(values, self._space)
        self._live[trial_id] = ot_trial
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        # Intermediate values, as in Ray (for inspection); one objective only.
        ot_trial = self._live.get(trial_id)
        if ot_trial is None or isinstance(self._metric, list) or self._metric is None:
            return
        value = metric_value(result, self._metric)
        step = result.get("training_iteration")
        if value is not None and isinstance(step, int):
            previous = self._latest.get(trial_id)
            self._latest[trial_id] = (value, step)
            if previous is not None:
                self._curves.add(trial_id)
                _report(ot_trial, *previous)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        ot_trial = self._live.pop(trial_id, None)
        latest = self._latest.pop(trial_id, None)
        if trial_id in self._curves:
            self._curves.discard(trial_id)
            if latest is not None:
                _report(ot_trial, *latest)
        if ot_trial is None:
            return
        ot = _optuna()
        metrics = self._metric if isinstance(self._metric, list) else [self._metric]
        values = [metric_value(result, m) for m in metrics]
        if error or any(v is None for v in values):
            # An error, or no finite value to tell: Optuna records the trial as failed.
            self._study.tell(ot_trial, state=ot.trial.TrialState.FAIL)
        else:
            self._study.tell(ot_trial, values if len(values) > 1 else values[0])

    # -- results from elsewhere ----------------------------------------------------------------
    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: Any,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> bool:
        """Record an evaluated config in the study (Optuna's ``add_trial``), as a complete,
        failed or pruned trial. Returns False, ignoring it, for a config outside the space
        or a define-by-run (or conditional) space, whose distributions are not known."""
        if self._space_fn is not None or self._conditional:
            return False
        if self._study is None:
            self._check_ready()
            self._study = self._create_study()
        ot = _optuna()
        try:
            params = self._encode(point_values(parameters, self._params, 0, complete=True))
        except ValueError:
            return False  # outside the space (a narrowed space): not this study's to learn
        state = ot.trial.TrialState
        if error or value is None:
            kind, values = state.FAIL, None
        elif pruned:
            kind, values = state.PRUNED, None
        else:
            kind = state.COMPLETE
            values = list(value) if isinstance(value, (list, tuple)) else [value]
        steps = dict(enumerate(intermediate_values or [], start=1))
        try:
            trial = ot.trial.create_trial(
                params=params,
                distributions=self._distributions,
                values=values,
                state=kind,
                intermediate_values=steps,
            )
            self._study.add_trial(trial)
        except ValueError:
            return False  # Optuna refused it (a value its distribution cannot hold)
        return True

    # -- state -------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything, the study with its sampler's random state included; the controller
        (and :meth:`save`) pickle it with cloudpickle.

        The study, its sampler and the live trials, which grow with the experiment, are
        pickled here with the standard pickler, several times faster than cloudpickle's on
        a study's thousands of small objects (the controller saves this state every second or
        so); a sampler that only cloudpickle can pickle (one holding a lambda) stays as it is.
        """
        state = dict(self.__dict__)
        core = {key: state.pop(key) for key in _STUDY_KEYS}
        try:
            state[_STUDY_BLOB] = pickle.dumps(core, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - whatever the standard pickler refuses
            state.update(core)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        # A copy, so that two searchers never share one study.
        state = cloudpickle.loads(cloudpickle.dumps(state))
        blob = state.pop(_STUDY_BLOB, None)
        if blob is not None:
            state.update(pickle.loads(blob))
        self.__dict__.update(state)
        self.__dict__.setdefault("_latest", {})  # a state saved before these existed
        self.__dict__.setdefault("_curves", set())
        self.__dict__.setdefault("_conditional", False)


_STUDY_KEYS = ("_study", "_sampler", "_live")  # pickled together: they share objects
_STUDY_BLOB = "_study_pickle"


def _ask_conditional(ot_trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """The config for ``space``, asking Optuna for each parameter along the chosen branches."""
    dist = _optuna().distributions

    def pick_index(label: str, options: list[Any]) -> int:
        return int(ot_trial.suggest_categorical(label, list(range(len(options)))))

    def pick_value(label: str, path: tuple[Any, ...], domain: Any) -> Any:
        d, decode, categories = _distribution(Param(path, label, domain))
        if isinstance(d, dist.FloatDistribution):
            raw = ot_trial.suggest_float(label, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, dist.IntDistribution):
            raw = ot_trial.suggest_int(label, d.low, d.high, step=d.step, log=d.log)
        else:
            raw = ot_trial.suggest_categorical(label, list(d.choices))
        return raw if decode is None else decode(raw)

    return resolve(space, pick_index, pick_value)


def _report(ot_trial: Any, value: float, step: int) -> None:
    if ot_trial is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a step reported again after a restart
        ot_trial.report(value, step)


def _check_objectives(metric: Any, mode: Any) -> tuple[Any, Any]:
    if isinstance(mode, (list, tuple)):
        for m in mode:
            check_mode(m)
        mode = list(mode)
    else:
        check_mode(mode)
    if isinstance(metric, tuple):
        metric = list(metric)
    if isinstance(metric, list) and not metric:
        raise ValueError("metric is an empty list, but must name at least one result key")
    if isinstance(metric, list) and isinstance(mode, list) and len(metric) != len(mode):
        raise ValueError(
            f"metric has {len(metric)} entries and mode {len(mode)}, but there must be one "
            "mode for each metric"
        )
    if isinstance(mode, list) and metric is not None and not isinstance(metric, list):
        raise ValueError(f"mode is the list {mode!r}, but metric {metric!r} is not a list")
    return metric, mode


def _distribution(param: Param) -> tuple[Any, Any, list[Any] | None]:
    """(Optuna distribution, decoder or None, the categories if picked by index)."""
    if param.domain is None:
        return param.native, None, None
    dist = _optuna().distributions
    d = param.domain
    if isinstance(d, Float):
        if d.q is not None and not d.log:
            return dist.FloatDistribution(d.low, d.high, step=d.q), decoder(d), None
        # Optuna has no log scale with a step: sample log-uniformly, then round to q.
        decode = decoder(d) if d.q is not None else None
        return dist.FloatDistribution(d.low, d.high, log=d.log), decode, None
    if isinstance(d, Integer):
        if not d.log:
            return dist.IntDistribution(d.low, d.high, step=d.q), None, None
        decode = decoder(d) if d.q != 1 else None
        return dist.IntDistribution(d.low, d.high, log=True), decode, None
    if isinstance(d, Categorical):
        if all(isinstance(c, _PRIMITIVE) for c in d.categories):
            return dist.CategoricalDistribution(d.categories), None, None
        # Optuna stores only plain values: it picks an index, we look the category up.
        n = len(d.categories)
        decode = decoder(d, by_index=True)
        return dist.CategoricalDistribution(list(range(n))), decode, d.categories
    raise unsupported(
        "Optuna", param, "it has no normal distribution; use tune.uniform or tune.quniform"
    )
