"""Bad input to the adapters fails early, with messages that say what to do."""

from __future__ import annotations

import sys

import pytest

from overtone import tune

ADAPTERS = {
    # name: (module, class, library module, extra)
    "optuna": ("overtone.search.optuna", "OptunaSearch", "optuna", "optuna"),
    "hyperopt": ("overtone.search.hyperopt", "HyperOptSearch", "hyperopt", "hyperopt"),
    "bayesopt": ("overtone.search.bayesopt", "BayesOptSearch", "bayes_opt", "bayesopt"),
    "nevergrad": ("overtone.search.nevergrad", "NevergradSearch", "nevergrad", "nevergrad"),
}
LIBRARY_NAMES = {
    "optuna": "Optuna",
    "hyperopt": "HyperOpt",
    "bayesopt": "BayesOpt",
    "nevergrad": "Nevergrad",
}


def adapter_class(name):
    module, cls, library, _ = ADAPTERS[name]
    pytest.importorskip(library)
    return getattr(__import__(module, fromlist=[cls]), cls)


def trainable(config):
    tune.report(loss=config["x"])


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_without_its_library_an_adapter_names_the_extra_to_install(name, monkeypatch):
    module, cls, library, extra = ADAPTERS[name]
    searcher_class = getattr(__import__(module, fromlist=[cls]), cls)  # importing is fine
    monkeypatch.setitem(sys.modules, library, None)  # "import library" now fails
    with pytest.raises(ImportError, match=rf"{cls} needs .*pip install 'overtone\[{extra}\]'"):
        searcher_class()


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_a_grid_search_is_refused_when_the_space_is_given(name, tmp_path):
    cls = adapter_class(name)
    library = LIBRARY_NAMES[name]
    space = {"x": tune.uniform(0, 1), "opt": {"lr": tune.grid_search([0.1, 0.2])}}
    with pytest.raises(ValueError, match=rf"parameter 'opt/lr' is a grid_search.*{library}"):
        cls(space=space)
    # Given as the experiment's param space, it fails before any trial starts.
    with pytest.raises(ValueError, match=rf"'opt/lr' is a grid_search.*{library}"):
        tune.run(
            trainable,
            config=space,
            search_alg=cls(),
            metric="loss",
            mode="min",
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_metric_or_mode_missing_at_the_first_suggestion(name, tmp_path):
    cls = adapter_class(name)
    with pytest.raises(RuntimeError, match=r"metric \(None\) or mode \('min'\) is not set"):
        tune.run(
            trainable,
            config={"x": tune.uniform(0, 1)},
            search_alg=cls(),
            mode="min",
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        )
    searcher = cls(metric="loss")
    searcher.set_search_properties(None, None, {"x": tune.uniform(0, 1)})
    with pytest.raises(RuntimeError, match=r"metric \('loss'\) or mode \(None\)"):
        searcher.suggest("t")


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_no_space_at_all(name):
    searcher = adapter_class(name)(metric="loss", mode="min")
    searcher.set_search_properties(None, None, {"only": "constants"})
    with pytest.raises(RuntimeError, match="has no search space"):
        searcher.suggest("t")


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_an_unknown_mode_is_refused(name):
    cls = adapter_class(name)
    with pytest.raises(ValueError, match="mode is 'minimize', but must be 'min' or 'max'"):
        cls(metric="loss", mode="minimize")
    with pytest.raises(ValueError, match="mode is 'best', but must be 'min' or 'max'"):
        cls().set_search_properties("loss", "best", {"x": tune.uniform(0, 1)})


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_bad_points_to_evaluate(name):
    cls = adapter_class(name)
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\] is 3, but must be a dict"):
        cls(points_to_evaluate=[3])
    with pytest.raises(ValueError, match=r"points_to_evaluate\[1\] has x=5, which uniform"):
        cls(space={"x": tune.uniform(0, 1)}, points_to_evaluate=[{"x": 0.5}, {"x": 5}])
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\] has no value for 'y'"):
        cls(
            space={"x": tune.uniform(0, 1), "y": tune.uniform(0, 1)},
            points_to_evaluate=[{"x": 0.5}],
            evaluated_rewards=[1.0],
        )
    with pytest.raises(ValueError, match=r"evaluated_rewards\[0\] is 'good', but must be"):
        cls(points_to_evaluate=[{"x": 0.5}], evaluated_rewards=["good"])
