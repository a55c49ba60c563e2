"""``HyperOptSearch``: HyperOpt's TPE as a searcher (``pip install 'overtone[hyperopt]'``).

HyperOpt is built around its own ``fmin`` loop; here it is driven one suggestion at a time
through its ``Trials`` database: each suggestion is a new trial document made by
``tpe.suggest``, and each completion writes the document's result (HyperOpt minimizes a
``loss``, so a metric to maximize is negated). HyperOpt is imported when a ``HyperOptSearch``
is made, not when this module is.
"""

from __future__ import annotations

import functools
import importlib
import math
import numbers
from typing import Any

import cloudpickle
import numpy as np

from overtone._checks import import_optional
from overtone.search._conditional import has_conditional, is_conditional, resolve
from overtone.search._convert import (
    MISSING,
    AdapterSearcher,
    Param,
    build_suggestion,
    check_points,
    decoder,
    flatten_point,
    has_searchable,
    metric_value,
    parse_space,
    plain,
    point_values,
    unflatten_names,
)
from overtone.space._domains import (
    Categorical,
    Domain,
    Float,
    Function,
    Integer,
    Normal,
    is_grid_search,
)
from overtone.space._variants import path_str

# Integers are rounded uniforms over [low - q/2, high + q/2], so that every value is as likely.
_HALF = 0.4999


def _hyperopt() -> Any:
    return import_optional("hyperopt", "HyperOptSearch", "hyperopt")


class HyperOptSearch(AdapterSearcher):
    """Suggests configs with HyperOpt's Tree-structured Parzen Estimator
    (``ray.tune.search.hyperopt.HyperOptSearch``).

    Args:
        space: the parameters to search, as Overtone domains, or as a HyperOpt space
            (``{"lr": hp.loguniform("lr", -9, -2)}``, conditional ``hp.choice`` included),
            whose labels are the names ``points_to_evaluate`` use. Without it, the
            experiment's param space is searched.
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: configs to try first. With a HyperOpt space, give ``hp.choice``
            parameters as the chosen value (or its index where the options are not plain
            values); with an Overtone space, partial points are completed at random.
        n_initial_points: how many random configs come before TPE takes over.
        random_state_seed: the seed (default: the experiment's ``seed``).
        gamma: TPE's quantile that separates good configs from the others, in (0, 1).
        evaluated_rewards: the metric values of ``points_to_evaluate`` if they were already
            evaluated: they are recorded as results instead of being run again.
    """

    library = "HyperOpt"

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        n_initial_points: int = 20,
        random_state_seed: int | None = None,
        gamma: float = 0.25,
        evaluated_rewards: list[float] | None = None,
    ) -> None:
        _hyperopt()
        super().__init__(metric=metric, mode=mode)
        if (
            isinstance(n_initial_points, bool)
            or not isinstance(n_initial_points, numbers.Integral)
            or n_initial_points < 0
        ):
            raise ValueError(f"n_initial_points is {n_initial_points!r}, but must be an int >= 0")
        if not isinstance(gamma, numbers.Real) or not 0 < gamma < 1:
            raise ValueError(f"gamma is {gamma!r}, but must be between 0 and 1 (exclusive)")
        self._n_initial_points = int(n_initial_points)
        self._gamma = float(gamma)
        self._seed = random_state_seed
        self._points, self._rewards = check_points(points_to_evaluate, evaluated_rewards)
        self._space: Any = None
        self._expr: Any = None  # what HyperOpt's Domain is built from
        self._native = False  # a HyperOpt space: evaluate the expression itself
        self._params: list[Param] = []
        self._decoders: list[tuple[str, Any, Any]] = []
        self._choices: dict[str, list[Any]] = {}  # hp.choice label -> its plain options
        self._trials: Any = None  # HyperOpt's Trials database, made at the first suggestion
        self._rng: np.random.Generator | None = None
        self._pending: list[dict[str, Any]] = []  # points (as HyperOpt values) to try first
        self._live: dict[str, dict[str, Any]] = {}  # trial id -> its trial document
        self._domain: Any = None  # rebuilt from _expr when needed; not part of the state
        self._conditional = False  # a space with branches: nested hp.choice
        self._label_decoders: dict[str, Any] = {}
        if space:
            self._set_space(space)
            self._space_from_init = True

    # -- the space -------------------------------------------------------------------------------
    def _is_native(self, value: Any) -> bool:
        return isinstance(value, _hyperopt().pyll.Apply)

    def _has_space(self) -> bool:
        return self._expr is not None

    def _set_space(self, space: Any) -> None:
        if not self._is_native(space) and has_conditional(space):
            self._set_conditional(space)
            return
        self._conditional = False
        if self._is_native(space):  # one whole HyperOpt expression
            params: list[Param] = []
            native = True
        else:
            params = parse_space(space, "HyperOpt", self._is_native)
            native = any(p.domain is None for p in params)
            mixed = [p.name for p in params if p.domain is not None]
            if native and mixed:
                raise ValueError(
                    f"the HyperOpt space mixes hp.* expressions with Overtone domains "
                    f"({', '.join(mixed)}): write all of it with one or the other"
                )
        if native:
            expr, decoders, choices = space, [], _native_choices(space)
        else:
            expr, decoders, choices = {}, [], {}
            for param in params:
                expr[param.name], decode = _expression(param)
                decoders.append((param.name, param.path, decode))
                if isinstance(param.domain, Categorical):
                    choices[param.name] = param.domain.categories
        if self._trials is not None and self._labels(expr) != self._labels(self._expr):
            raise ValueError(
                "the param space searches other parameters than this HyperOptSearch (restored) did"
            )
        self._space, self._expr, self._native, self._params = space, expr, native, params
        self._decoders, self._choices, self._domain = decoders, choices, None
        # Check the points now, at definition time, not at the first suggestion.
        self._pending = [self._point(i, point) for i, point in enumerate(self._points)]

    def _set_conditional(self, space: dict[str, Any]) -> None:
        """A space with branches that search parameters: a nested ``hp.choice``, whose
        picks are read back along the chosen branches (see overtone.search._conditional)."""
        if self._points:
            raise ValueError(
                "points_to_evaluate cannot be used with a conditional space (a tune.choice "
                "whose branches search parameters): give the points as a search space "
                "without branches, or leave them out"
            )
        decoders: dict[str, Any] = {}
        expr = _conditional_expression(space, (), decoders)
        if self._trials is not None and self._labels(expr) != self._labels(self._expr):
            raise ValueError(
                "the param space searches other parameters than this HyperOptSearch (restored) did"
            )
        self._space, self._expr, self._native, self._params = space, expr, False, []
        self._decoders, self._choices, self._domain = [], {}, None
        self._conditional, self._label_decoders = True, decoders
        self._pending = []

    def _labels(self, expr: Any) -> set[str]:
        hpo = _hyperopt()
        return set(hpo.base.Domain(_identity, expr).params)

    def _point(self, index: int, point: dict[str, Any]) -> dict[str, Any]:
        """A point as HyperOpt values: the index of a choice, the value of anything else."""
        complete = self._rewards is not None
        if self._native:
            values = dict(flatten_point(point))
        else:
            values = point_values(point, self._params, index, complete=complete)
        for label, options in self._choices.items():
            if label in values:
                values[label] = _choice_index(options, values[label], label, index)
        if self._native:
            self._check_native_point(index, values)
        return values

    def _check_native_point(self, index: int, values: dict[str, Any]) -> None:
        hpo = _hyperopt()
        domain = hpo.base.Domain(_identity, self._expr)
        unknown = sorted(set(values) - set(domain.params))
        if unknown:
            raise ValueError(
                f"points_to_evaluate[{index}] names {unknown}, which are not labels of the "
                f"HyperOpt space {sorted(domain.params)}"
            )
        memo = domain.memo_from_config(values)
        hpo.utils.use_obj_for_literal_in_memo(
            domain.expr, hpo.base.Ctrl(None), hpo.base.Ctrl, memo
        )
        try:
            hpo.pyll.rec_eval(domain.expr, memo=memo, print_node_on_error=False)
        except Exception as exc:  # noqa: BLE001 - any failure means the point is incomplete
            raise ValueError(
                f"points_to_evaluate[{index}] is {values!r}, which does not give every label "
                f"its choices need ({type(exc).__name__}: {exc})"
            ) from None

    def _take_seed(self, seed: Any) -> None:
        if self._seed is None and seed is not None:
            self._seed = seed

    # -- HyperOpt's database -------------------------------------------------------------------
    def _get_domain(self) -> Any:
        if self._domain is None:
            self._domain = _hyperopt().base.Domain(_identity, self._expr)
        return self._domain

    def _start(self) -> None:
        hpo = _hyperopt()
        self._trials = hpo.Trials()
        self._rng = np.random.default_rng(self._seed)
        if self._rewards is not None:
            sign = 1.0 if self._mode == "min" else -1.0
            for values, reward in zip(self._pending, self._rewards):
                doc = self._insert(self._complete(values))
                doc["state"] = hpo.base.JOB_STATE_DONE
                doc["result"] = {"loss": sign * float(reward), "status": hpo.STATUS_OK}
            self._pending = []
            self._trials.refresh()

    def _complete(self, values: dict[str, Any]) -> dict[str, Any]:
        """Sample the parameters a (partial) point leaves open."""
        assert self._rng is not None
        filled = dict(values)
        for param in self._params:
            if param.name not in filled and param.domain is not None:
                value = param.domain.sample(self._rng)
                if param.name in self._choices:
                    value = _choice_index(self._choices[param.name], value, param.name, 0)
                filled[param.name] = value
        return filled

    def _insert(self, values: dict[str, Any]) -> dict[str, Any]:
        fmin = importlib.import_module("hyperopt.fmin")  # hyperopt.fmin is also a function
        (tid,) = self._trials.new_trial_ids(1)
        doc = fmin.generate_trial(tid, values)
        for label in self._get_domain().params:  # TPE wants every label, inactive ones empty
            doc["misc"]["idxs"].setdefault(label, [])
            doc["misc"]["vals"].setdefault(label, [])
        self._trials.insert_trial_docs([doc])
        self._trials.refresh()
        return self._trials.trials[-1]

    # -- the searcher interface ------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._trials is None:
            self._check_ready()
            self._start()
        hpo = _hyperopt()
        if self._pending:
            doc = self._insert(self._complete(self._pending.pop(0)))
        else:
            assert self._rng is not None
            new_ids = self._trials.new_trial_ids(1)
            self._trials.refresh()
            algo = functools.partial(
                hpo.tpe.suggest, n_startup_jobs=self._n_initial_points, gamma=self._gamma
            )
            seed = int(self._rng.integers(2**31 - 1))
            docs = algo(new_ids, self._get_domain(), self._trials, seed)
            self._trials.insert_trial_docs(docs)
            self._trials.refresh()
            doc = self._trials.trials[-1]
        self._live[trial_id] = doc
        spec = hpo.base.spec_from_misc(doc["misc"])
        if self._conditional:
            decoders = self._label_decoders

            def pick_index(label: str, options: list[Any]) -> int:
                return int(spec[label])

            def pick_value(label: str, path: Any, domain: Any) -> Any:
                decode = decoders.get(label)
                return decode(spec[label]) if decode is not None else plain(spec[label])

            return resolve(self._space, pick_index, pick_value)
        if not self._native:
            values = {}
            for name, path, decode in self._decoders:
                raw = spec[name]
                values[path] = decode(raw) if decode is not None else plain(raw)
            return build_suggestion(values, self._space)
        return self._evaluate(doc, spec)

    def _evaluate(self, doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        hpo = _hyperopt()
        domain = self._get_domain()
        ctrl = hpo.base.Ctrl(self._trials, current_trial=doc)
        memo = domain.memo_from_config(spec)
        hpo.utils.use_obj_for_literal_in_memo(domain.expr, ctrl, hpo.base.Ctrl, memo)
        config = plain(hpo.pyll.rec_eval(domain.expr, memo=memo, print_node_on_error=False))
        if not isinstance(config, dict):
            raise ValueError(
                f"the HyperOpt space evaluates to {config!r}, but must evaluate to a dict"
            )
        return unflatten_names(config)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        doc = self._live.pop(trial_id, None)
        if doc is None:
            return
        hpo = _hyperopt()
        assert self._metric is not None
        value = metric_value(result, self._metric)
        if error or value is None:
            doc["state"] = hpo.base.JOB_STATE_ERROR
            doc["misc"]["error"] = ("TuneError", "the trial failed or reported no metric")
        else:
            doc["state"] = hpo.base.JOB_STATE_DONE
            loss = value if self._mode == "min" else -value
            doc["result"] = {"loss": loss, "status": hpo.STATUS_OK}
        self._trials.refresh()

    # -- results from elsewhere ----------------------------------------------------------------
    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: Any,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> bool:
        """Record an evaluated config as a finished document of HyperOpt's database (a
        failed one for an error). Returns False, ignoring it, for a config outside the space
        or a conditional space."""
        if self._conditional or (value is None and not error):
            return False
        if self._trials is None:
            self._check_ready()
            self._start()
        hpo = _hyperopt()
        try:
            doc = self._insert(self._complete(self._point(0, parameters)))
        except ValueError:
            return False
        if error:
            doc["state"] = hpo.base.JOB_STATE_ERROR
            doc["result"] = {"status": hpo.STATUS_FAIL}
        else:
            sign = 1.0 if self._mode == "min" else -1.0
            doc["state"] = hpo.base.JOB_STATE_DONE
            doc["result"] = {"loss": sign * float(value), "status": hpo.STATUS_OK}
        self._trials.refresh()
        return True

    # -- state -------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything but HyperOpt's Domain (rebuilt from the space when needed)."""
        state = dict(self.__dict__)
        state["_domain"] = None
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(cloudpickle.loads(cloudpickle.dumps(state)))
        self.__dict__.setdefault("_conditional", False)  # a state saved before these existed
        self.__dict__.setdefault("_label_decoders", {})
        self._domain = None


def _identity(config: Any) -> Any:
    return config


def _expression(param: Param) -> tuple[Any, Any]:
    """(HyperOpt expression, decoder or None) for one Overtone domain."""
    hp = _hyperopt().hp
    scope = _hyperopt().pyll.scope
    d, name = param.domain, param.name
    if isinstance(d, Float):
        if d.log:
            lo, hi = math.log(d.low), math.log(d.high)
            expr = (
                hp.loguniform(name, lo, hi) if d.q is None else hp.qloguniform(name, lo, hi, d.q)
            )
        else:
            expr = (
                hp.uniform(name, d.low, d.high)
                if d.q is None
                else hp.quniform(name, d.low, d.high, d.q)
            )
        return expr, decoder(d)
    if isinstance(d, Integer):
        lo, hi = d.low - _HALF * d.q, d.high + _HALF * d.q
        if d.log:
            lo = max(lo, d.low / 2)
            return scope.int(hp.qloguniform(name, math.log(lo), math.log(hi), d.q)), decoder(d)
        return scope.int(hp.quniform(name, lo, hi, d.q)), decoder(d)
    if isinstance(d, Normal):
        expr = (
            hp.normal(name, d.mean, d.sd) if d.q is None else hp.qnormal(name, d.mean, d.sd, d.q)
        )
        return expr, decoder(d)
    assert isinstance(d, Categorical)
    return hp.choice(name, list(range(len(d.categories)))), decoder(d, by_index=True)


def _conditional_expression(value: Any, label: tuple[Any, ...], decoders: dict[str, Any]) -> Any:
    """A nested HyperOpt expression for a conditional space: each choice of branches (and
    each grid) an ``hp.choice`` over its branches' own expressions, labels as in
    :func:`overtone.search._conditional.resolve`; fills ``decoders`` (label -> decoder)."""
    hp = _hyperopt().hp
    if is_grid_search(value) or is_conditional(value):
        options = value["grid_search"] if is_grid_search(value) else value.categories
        branches = [
            _conditional_expression(option, (*label, i), decoders) if has_searchable(option) else i
            for i, option in enumerate(options)
        ]
        return hp.choice(path_str(label), branches)
    if isinstance(value, Function):
        return 0
    if isinstance(value, Domain):
        expr, decoders[path_str(label)] = _expression(Param(label, path_str(label), value))
        return expr
    if isinstance(value, dict):
        return {k: _conditional_expression(v, (*label, k), decoders) for k, v in value.items()}
    if isinstance(value, list):
        return [_conditional_expression(v, (*label, i), decoders) for i, v in enumerate(value)]
    return 0


def _native_choices(space: Any) -> dict[str, list[Any]]:
    """hp.choice label -> its options, as plain values (MISSING where an option is an
    expression), so that points can name the chosen value rather than its index."""
    hpo = _hyperopt()
    choices = {}
    for node in hpo.pyll.dfs(hpo.pyll.as_apply(space)):
        if node.name != "switch" or not node.pos_args:
            continue
        selector = node.pos_args[0]
        if selector.name != "hyperopt_param":
            continue
        label = selector.arg["label"].obj
        choices[label] = [
            option.obj if option.name == "literal" else MISSING for option in node.pos_args[1:]
        ]
    return choices


def _choice_index(options: list[Any], value: Any, label: str, index: int) -> int:
    for i, option in enumerate(options):
        if option is not MISSING and (option is value or option == value):
            return i
    # An index given directly (the only way to name an option that is an expression).
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if 0 <= value < len(options) and any(o is MISSING for o in options):
            return int(value)
    plain_options = [o for o in options if o is not MISSING]
    raise ValueError(
        f"points_to_evaluate[{index}] has {label}={value!r}, which is not one of its "
        f"choices {plain_options!r}"
    )
