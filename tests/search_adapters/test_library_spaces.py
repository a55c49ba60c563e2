"""Each library's own search space, and what each library cannot express."""

from __future__ import annotations

import math

import numpy as np
import pytest

from overtone import tune
from overtone.search import Searcher


def executor():
    return tune.LocalExecutor(num_cpus=2, num_gpus=0)


def model(config):
    m = config["model"]
    score = m["depth"] if m["kind"] == "tree" else -math.log10(m["alpha"])
    tune.report(score=score + config["noise"] * 0)


# -- HyperOpt ---------------------------------------------------------------------------------
def test_hyperopt_native_space_with_a_conditional_choice(tmp_path):
    pytest.importorskip("hyperopt")
    from hyperopt import hp
    from hyperopt.pyll import scope

    from overtone.search.hyperopt import HyperOptSearch

    space = {
        "model": hp.choice(
            "model",
            [
                {"kind": "tree", "depth": scope.int(hp.quniform("depth", 1, 5, 1))},
                {"kind": "linear", "alpha": hp.loguniform("alpha", -7, 0)},
            ],
        ),
    }
    searcher = HyperOptSearch(
        space=space,
        metric="score",
        mode="max",
        random_state_seed=0,
        n_initial_points=3,
        points_to_evaluate=[{"model": 0, "depth": 4}],
    )
    analysis = tune.run(
        model,
        config={"noise": tune.sample_from(lambda: 0)},
        search_alg=searcher,
        num_samples=8,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor(),
    )
    configs = [t.config for t in analysis.trials]
    assert configs[0]["model"] == {"kind": "tree", "depth": 4}
    for config in configs:
        m = config["model"]
        assert set(m) == ({"kind", "depth"} if m["kind"] == "tree" else {"kind", "alpha"})
        assert config["noise"] == 0
    done = [d for d in searcher._trials.trials if d["state"] == 2]
    assert len(done) == 8


def test_hyperopt_points_name_a_plain_choice_by_value():
    pytest.importorskip("hyperopt")
    from hyperopt import hp

    from overtone.search.hyperopt import HyperOptSearch

    searcher = HyperOptSearch(
        space={"act": hp.choice("act", ["relu", "tanh"]), "x": hp.uniform("x", 0, 1)},
        metric="loss",
        mode="min",
        points_to_evaluate=[{"act": "tanh", "x": 0.5}],
    )
    assert searcher.suggest("t") == {"act": "tanh", "x": 0.5}
    with pytest.raises(ValueError, match=r"act='gelu', which is not one of its choices"):
        HyperOptSearch(
            space={"act": hp.choice("act", ["relu", "tanh"])}, points_to_evaluate=[{"act": "gelu"}]
        )


def test_hyperopt_refuses_a_space_mixing_both_kinds():
    pytest.importorskip("hyperopt")
    from hyperopt import hp

    from overtone.search.hyperopt import HyperOptSearch

    with pytest.raises(ValueError, match=r"mixes hp\.\* expressions with Overtone domains \(y\)"):
        HyperOptSearch(space={"x": hp.uniform("x", 0, 1), "y": tune.uniform(0, 1)})


def test_hyperopt_converts_every_overtone_domain():
    pytest.importorskip("hyperopt")
    from overtone.search.hyperopt import HyperOptSearch

    space = {
        "u": tune.uniform(0.0, 1.0),
        "q": tune.quniform(0.0, 1.0, 0.25),
        "lu": tune.loguniform(1e-3, 1.0),
        "qlu": tune.qloguniform(1e-2, 1.0, 0.01),
        "ri": tune.randint(0, 10),
        "qri": tune.qrandint(0, 20, 5),
        "lri": tune.lograndint(1, 100),
        "qlri": tune.qlograndint(2, 64, 2),
        "n": tune.randn(0.0, 1.0),
        "qn": tune.qrandn(0.0, 2.0, 0.5),
        "c": tune.choice(["a", None, {"k": 1}]),
    }
    searcher = HyperOptSearch(
        space=space, metric="loss", mode="min", random_state_seed=0, n_initial_points=5
    )
    seen_ri = set()
    for i in range(30):
        config = searcher.suggest(str(i))
        for key, domain in space.items():
            assert domain.is_valid(config[key]), (key, config[key])
        seen_ri.add(config["ri"])
        searcher.on_trial_complete(str(i), {"loss": float(i % 5)})
    assert {0, 9} & seen_ri  # the ends of a randint range are reachable


# -- BayesOpt ---------------------------------------------------------------------------------
def test_bayesopt_refuses_what_it_cannot_express():
    pytest.importorskip("bayes_opt")
    from overtone.search.bayesopt import BayesOptSearch

    with pytest.raises(ValueError, match=r"parameter 'opt/act' is choice\(.*BayesOpt cannot"):
        BayesOptSearch(space={"opt": {"act": tune.choice(["relu", "tanh"])}})
    with pytest.raises(ValueError, match=r"parameter 'n' is randn\(.*BayesOpt cannot"):
        BayesOptSearch(space={"n": tune.randn()})
    with pytest.raises(ValueError, match=r"parameter 'x' has bounds \(1, 0\)"):
        BayesOptSearch(space={"x": (1, 0)})
    with pytest.raises(ValueError, match=r"utility_kwargs kind is 'ts', but must be one of"):
        BayesOptSearch(utility_kwargs={"kind": "ts"})
    with pytest.raises(ValueError, match=r"random_search_steps is -1, but must be an integer"):
        BayesOptSearch(random_search_steps=-1)
    searcher = BayesOptSearch(metric="loss", mode="min")
    with pytest.raises(ValueError, match="'act' is choice"):
        searcher.set_search_properties(None, None, {"act": tune.choice([1, 2])})


def bowl(config):
    tune.report(
        loss=(config["x"] - 0.7) ** 2 + (math.log10(config["lr"]) + 2) ** 2 + abs(config["n"] - 3)
    )


@pytest.mark.parametrize("kind", ["ei"])
def test_bayesopt_searches_log_and_integer_ranges(kind, tmp_path):
    pytest.importorskip("bayes_opt")
    from overtone.search.bayesopt import BayesOptSearch

    searcher = BayesOptSearch(utility_kwargs={"kind": kind, "xi": 0.01}, random_search_steps=4)
    config = {"x": tune.uniform(0, 1), "lr": tune.loguniform(1e-4, 1), "n": tune.randint(1, 6)}
    analysis = tune.run(
        bowl,
        config=config,
        search_alg=searcher,
        num_samples=8,
        metric="loss",
        mode="min",
        seed=0,
        max_concurrent_trials=1,  # the same run every time
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor(),
    )
    for t in analysis.trials:
        assert 1e-4 <= t.config["lr"] <= 1 and t.config["n"] in range(1, 6)
    assert len(searcher._optimizer.space.target) == 8
    # the model-based half does better than the random one
    losses = [t.last_result["loss"] for t in analysis.trials]
    assert min(losses[4:]) < min(losses[:4])


def test_bayesopt_native_bounds_and_waits_for_a_running_duplicate():
    pytest.importorskip("bayes_opt")
    from overtone.search.bayesopt import BayesOptSearch

    searcher = BayesOptSearch(
        space={"x": (0, 1)}, metric="v", mode="max", random_search_steps=1, random_state=0
    )
    first = searcher.suggest("a")
    assert 0 <= first["x"] <= 1
    # Random phase over, and its trial still running: wait for its result.
    assert searcher.suggest("b") is None
    searcher.on_trial_complete("a", {"v": 1.0})
    assert searcher.suggest("b") is not None


def test_bayesopt_patience_ends_a_search_that_only_repeats():
    pytest.importorskip("bayes_opt")
    from overtone.search.bayesopt import BayesOptSearch

    searcher = BayesOptSearch(
        space={"x": tune.quniform(0, 1, 0.5)},
        metric="v",
        mode="max",
        random_search_steps=0,
        patience=2,
        random_state=0,
    )
    answers = []
    for i in range(12):
        answer = searcher.suggest(str(i))
        answers.append(answer)
        if isinstance(answer, dict):
            searcher.on_trial_complete(str(i), {"v": -((answer["x"] - 0.5) ** 2)})
        if answer == Searcher.FINISHED:
            break
    assert answers[-1] == Searcher.FINISHED
    assert len([a for a in answers if isinstance(a, dict)]) <= 3 * 2


# -- Nevergrad --------------------------------------------------------------------------------
def test_nevergrad_never_has_more_trials_out_than_num_workers():
    ng = pytest.importorskip("nevergrad")
    from overtone.search.nevergrad import NevergradSearch

    searcher = NevergradSearch(
        optimizer=ng.optimizers.OnePlusOne,
        metric="loss",
        mode="min",
        space={"x": tune.uniform(0, 1)},
        seed=0,
    )
    assert searcher.suggest("a") is not None
    assert searcher.suggest("b") is None  # num_workers is 1
    searcher.on_trial_complete("a", {"loss": 1.0})
    assert searcher.suggest("b") is not None


def test_nevergrad_with_an_optimizer_instance_and_its_parametrization(tmp_path):
    ng = pytest.importorskip("nevergrad")
    from overtone.search.nevergrad import NevergradSearch

    depth = ng.p.Scalar(lower=1, upper=5).set_integer_casting()
    parametrization = ng.p.Dict(**{"model/kind": "tree", "model/depth": depth, "noise": 0})
    parametrization.random_state = np.random.RandomState(0)
    optimizer = ng.optimizers.TwoPointsDE(parametrization=parametrization, budget=6, num_workers=2)
    point = {"model": {"kind": "tree", "depth": 2}, "noise": 0}
    searcher = NevergradSearch(
        optimizer=optimizer, metric="score", mode="max", points_to_evaluate=[point]
    )
    analysis = tune.run(
        model,
        search_alg=searcher,
        num_samples=6,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor(),
        max_concurrent_trials=1,
    )
    assert analysis.trials[0].config == point
    for t in analysis.trials:
        assert t.config["model"]["kind"] == "tree" and 1 <= t.config["model"]["depth"] <= 5
    assert optimizer.num_tell == 6
    with pytest.raises(ValueError, match="pass space=None"):
        NevergradSearch(optimizer=optimizer, space={"x": tune.uniform(0, 1)})


def test_nevergrad_optimizer_by_name_and_bad_ones():
    pytest.importorskip("nevergrad")
    from overtone.search.nevergrad import NevergradSearch

    searcher = NevergradSearch(
        optimizer="TwoPointsDE",
        space={"x": tune.uniform(0, 1)},
        metric="loss",
        mode="min",
        optimizer_kwargs={"num_workers": 4},
    )
    searcher.set_search_properties(None, None, {}, num_samples=20)
    assert [searcher.suggest(str(i)) is not None for i in range(5)] == [True] * 4 + [False]
    assert searcher._optimizer.name == "TwoPointsDE" and searcher._optimizer.budget == 20
    with pytest.raises(ValueError, match="'NoSuchOptimizer', which is not a name"):
        NevergradSearch(optimizer="NoSuchOptimizer")
    with pytest.raises(ValueError, match="must be a Nevergrad optimizer class"):
        NevergradSearch(optimizer=3)
