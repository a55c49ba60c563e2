"""OptunaSearch: quality on Branin, parity with Optuna's own loop, samplers, objectives, spaces."""

from __future__ import annotations

import math
import statistics

import pytest

from overtone import tune
from overtone.search import BasicVariantGenerator, ConcurrencyLimiter

optuna = pytest.importorskip("optuna")
from overtone.search.optuna import OptunaSearch  # noqa: E402

BRANIN_MIN = 0.397887


def branin_value(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def branin(config):
    tune.report(loss=branin_value(config["x1"], config["x2"]))


def branin_space():
    return {"x1": tune.uniform(-5.0, 10.0), "x2": tune.uniform(0.0, 15.0)}


def run(trainable, searcher, tmp_path, name, num_samples, **kwargs):
    return tune.run(
        trainable,
        name=name,
        config=kwargs.pop("config", branin_space()),
        search_alg=searcher,
        num_samples=num_samples,
        metric=kwargs.pop("metric", "loss"),
        mode=kwargs.pop("mode", "min"),
        storage_path=str(tmp_path),
        verbose=0,
        executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        **kwargs,
    )


def best(analysis) -> float:
    return min(t.last_result["loss"] for t in analysis.trials)


def test_tpe_on_branin_gets_close_to_the_minimum_and_beats_random_search(tmp_path):
    # Two trials at a time; batch=True makes the order the sampler hears results in, and so
    # the whole run, the same on every machine.
    tpe, rand = [], []
    for seed in range(5):
        searcher = ConcurrencyLimiter(OptunaSearch(), max_concurrent=2, batch=True)
        tpe.append(best(run(branin, searcher, tmp_path, f"tpe{seed}", 60, seed=seed)))
        rand.append(
            best(
                run(
                    branin,
                    BasicVariantGenerator(),
                    tmp_path,
                    f"rnd{seed}",
                    60,
                    seed=seed,
                    max_concurrent_trials=2,
                )
            )
        )
    assert min(tpe) >= BRANIN_MIN - 1e-9
    assert statistics.median(tpe) <= 0.6, tpe
    assert statistics.median(tpe) < 0.7 * statistics.median(rand), (tpe, rand)
    assert sum(t < r for t, r in zip(tpe, rand)) >= 4, (tpe, rand)


def test_the_adapter_loses_nothing_against_optunas_own_loop(tmp_path):
    searcher = OptunaSearch(seed=11)
    analysis = run(branin, searcher, tmp_path, "ours", 25, max_concurrent_trials=1)
    ours = [t.last_result["loss"] for t in analysis.trials]

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=11))
    study.optimize(
        lambda trial: branin_value(
            trial.suggest_float("x1", -5.0, 10.0), trial.suggest_float("x2", 0.0, 15.0)
        ),
        n_trials=25,
    )
    theirs = [t.value for t in study.trials]
    # Sequential and seeded alike, the two loops make the very same study.
    assert ours == pytest.approx(theirs)
    assert min(ours) == pytest.approx(study.best_value)


def two_objectives(config):
    tune.report(a=(config["x"] - 1) ** 2, b=config["x"] + config["y"])


@pytest.mark.parametrize(
    "sampler",
    ["tpe", "nsga2", "random"],
)
def test_multi_objective_with_lists_of_metrics_and_modes(sampler, tmp_path):
    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=0),
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=0, population_size=4),
        "random": lambda: optuna.samplers.RandomSampler(seed=0),
    }
    searcher = OptunaSearch(metric=["a", "b"], mode=["min", "max"], sampler=samplers[sampler]())
    analysis = run(
        two_objectives,
        searcher,
        tmp_path,
        "mo",
        8,
        config={"x": tune.uniform(-2.0, 2.0), "y": tune.randint(0, 5)},
        metric=None,
        mode=None,
    )
    study = searcher._study
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    completed = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(completed) == len(analysis.trials) == 8
    results = sorted((t.last_result["a"], t.last_result["b"]) for t in analysis.trials)
    told = sorted(tuple(t.values) for t in completed)
    assert [v for pair in told for v in pair] == pytest.approx([v for p in results for v in p])
    assert study.best_trials  # a Pareto front exists


def quadratic(config):
    tune.report(loss=(config["x"] - 0.3) ** 2 + config["n"] / 100)


@pytest.mark.parametrize("sampler", ["cmaes", "gp"])
def test_model_based_samplers_plug_in(sampler, tmp_path):
    if sampler == "cmaes":
        pytest.importorskip("cmaes")
        chosen = optuna.samplers.CmaEsSampler(seed=0, n_startup_trials=3)
    else:
        pytest.importorskip("torch")
        chosen = optuna.samplers.GPSampler(seed=0, n_startup_trials=3)
    searcher = OptunaSearch(sampler=chosen)
    analysis = run(
        quadratic,
        searcher,
        tmp_path,
        sampler,
        8,
        config={"x": tune.uniform(-1.0, 1.0), "n": tune.randint(0, 3)},
    )
    assert len(analysis.trials) == 8
    assert isinstance(searcher._study.sampler, type(chosen))
    assert len([t for t in searcher._study.trials if t.state.name == "COMPLETE"]) == 8


def define_by_run(trial):
    kind = trial.suggest_categorical("model/kind", ["linear", "tree"])
    if kind == "tree":
        trial.suggest_int("model/depth", 1, 4)
    else:
        trial.suggest_float("model/alpha", 1e-3, 1.0, log=True)
    return {"model/tag": "dbr", "seed": 7}


def model_score(config):
    model = config["model"]
    score = model.get("depth", 0) - math.log10(model.get("alpha", 1.0))
    tune.report(score=score, seed=config["seed"], tag=model["tag"], base=config["base"])


def test_a_define_by_run_space_function_with_conditional_parameters(tmp_path):
    searcher = OptunaSearch(
        space=define_by_run,
        metric="score",
        mode="max",
        seed=1,
        points_to_evaluate=[{"model": {"kind": "tree", "depth": 3}}],
    )
    analysis = run(
        model_score, searcher, tmp_path, "dbr", 8, config={"base": 1}, metric=None, mode=None
    )
    configs = [t.config for t in analysis.trials]
    assert configs[0]["model"] == {"kind": "tree", "depth": 3, "tag": "dbr"}
    for config in configs:
        model = config["model"]
        assert config["seed"] == 7 and config["base"] == 1 and model["tag"] == "dbr"
        assert ("depth" in model) == (model["kind"] == "tree")
        assert ("alpha" in model) == (model["kind"] == "linear")
    assert len([t for t in searcher._study.trials if t.state.name == "COMPLETE"]) == 8


def test_optunas_own_distributions_as_the_space(tmp_path):
    dist = optuna.distributions
    native = {"x": dist.FloatDistribution(-1.0, 1.0), "nested": {"n": dist.IntDistribution(0, 2)}}
    searcher = OptunaSearch(space=native, metric="loss", mode="min", seed=0)
    searcher.set_search_properties(None, None, {"const": 1})
    suggestion = searcher.suggest("t")
    assert set(suggestion) == {"x", "nested"} and suggestion["nested"]["n"] in (0, 1, 2)


def test_every_overtone_domain_but_normal_converts():
    space = {
        "u": tune.uniform(0.0, 1.0),
        "q": tune.quniform(0.0, 1.0, 0.25),
        "lu": tune.loguniform(1e-3, 1.0),
        "qlu": tune.qloguniform(1e-2, 1.0, 0.01),
        "ri": tune.randint(0, 10),
        "qri": tune.qrandint(0, 20, 5),
        "lri": tune.lograndint(1, 100),
        "qlri": tune.qlograndint(2, 64, 2),
        "c": tune.choice(["a", None, 3]),
        "co": tune.choice([{"k": 1}, (1, 2)]),
    }
    searcher = OptunaSearch(space=space, metric="loss", mode="min", seed=0)
    for i in range(30):
        config = searcher.suggest(str(i))
        for key, domain in space.items():
            assert domain.is_valid(config[key]), (key, config[key])
        assert isinstance(config["ri"], int) and isinstance(config["qlri"], int)
        searcher.on_trial_complete(str(i), {"loss": float(i % 7)})


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="parameter 'n' is randn.*Optuna"):
        OptunaSearch(space={"n": tune.randn(0, 1)})
    with pytest.raises(ValueError, match="one mode for each metric"):
        OptunaSearch(metric=["a", "b"], mode=["min"])
    with pytest.raises(ValueError, match="mode is 'maximize', but must be 'min' or 'max'"):
        OptunaSearch(metric=["a"], mode=["maximize"])
    with pytest.raises(ValueError, match="define-by-run"):
        OptunaSearch(space=define_by_run, points_to_evaluate=[{}], evaluated_rewards=[1.0])
    with pytest.raises(ValueError, match="evaluated_rewards has 1 values.*2 points"):
        OptunaSearch(points_to_evaluate=[{}, {}], evaluated_rewards=[1.0])
    with pytest.raises(ValueError, match="sampler is 'tpe', but must be an optuna sampler"):
        OptunaSearch(sampler="tpe")
    with pytest.warns(UserWarning, match="seed only seeds the default sampler"):
        OptunaSearch(sampler=optuna.samplers.RandomSampler(), seed=1)
    searcher = OptunaSearch(space={"x": tune.uniform(0, 1)}, metric=["a", "b"], mode="min")
    with pytest.raises(ValueError, match="list of modes"):
        searcher.suggest("t")


def test_a_space_given_twice_is_refused(tmp_path):
    searcher = OptunaSearch(space={"x": tune.uniform(0, 1)}, metric="loss", mode="min")
    with pytest.raises(ValueError, match="define the parameters in one place only"):
        run(quadratic, searcher, tmp_path, "twice", 2, config={"x": tune.uniform(0, 1), "n": 0})


def test_curves_reach_optuna_as_intermediate_values(tmp_path):
    """Every step of a trial that reports several times; none for a one-result trial,
    whose only value is the trial's value (told at its end)."""

    def train(config):
        for step in range(1, config["steps"] + 1):
            tune.report({"loss": config["x"] / step})

    searcher = OptunaSearch(seed=3)
    run(
        train,
        searcher,
        tmp_path,
        "curves",
        4,
        config={"x": tune.uniform(1.0, 2.0), "steps": tune.sample_from(lambda _: 3)},
    )
    one = OptunaSearch(seed=3)
    run(train, one, tmp_path, "single", 2, config={"x": tune.uniform(1.0, 2.0), "steps": 1})
    for trial in searcher._study.trials:
        x = trial.params["x"]
        assert trial.intermediate_values == pytest.approx({1: x, 2: x / 2, 3: x / 3})
        assert trial.value == pytest.approx(x / 3)
    for trial in one._study.trials:
        assert trial.intermediate_values == {}
        assert trial.value == pytest.approx(trial.params["x"])


def _told(searcher, n, start=0):
    """Suggest and complete ``n`` trials; the configs suggested."""
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": branin_value(config["x1"], config["x2"])})
        configs.append(config)
    return configs


@pytest.mark.parametrize("lambda_sampler", [False, True])
def test_state_round_trip_goes_on_where_it_was(lambda_sampler):
    """The study is pickled with the standard pickler (fast); a sampler only cloudpickle can
    pickle (a lambda inside) keeps the state restorable all the same."""
    import cloudpickle

    def make():
        sampler = None
        if lambda_sampler:
            sampler = optuna.samplers.TPESampler(seed=3, gamma=lambda n: min(int(n * 0.2), 10))
        searcher = OptunaSearch(sampler=sampler, seed=None if lambda_sampler else 3)
        searcher.set_search_properties("loss", "min", branin_space())
        return searcher

    original = make()
    _told(original, 12)
    live = original.suggest("t12")  # a trial still running when the state is saved
    state = cloudpickle.loads(cloudpickle.dumps(original.get_state()))  # as the controller does
    assert ("_study_pickle" in state) is not lambda_sampler
    restored = make()
    restored.set_state(state)
    assert restored._study.sampler is restored._sampler or restored._sampler is None
    for searcher in (original, restored):
        searcher.on_trial_complete("t12", {"loss": branin_value(live["x1"], live["x2"])})
    assert _told(restored, 5, start=13) == _told(original, 5, start=13)
    assert len(restored._study.trials) == 18
