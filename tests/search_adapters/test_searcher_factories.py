"""tune.create_searcher (and tune.create_scheduler, from the facade)."""

from __future__ import annotations

import pytest

from overtone import tune
from overtone.schedulers import FIFOScheduler
from overtone.search import BasicVariantGenerator


def test_searchers_by_name():
    assert isinstance(tune.create_searcher("variant_generator"), BasicVariantGenerator)
    random = tune.create_searcher("Random", max_concurrent=3)
    assert isinstance(random, BasicVariantGenerator) and random._max_concurrent == 3
    for name, library, cls in [
        ("optuna", "optuna", "OptunaSearch"),
        ("hyperopt", "hyperopt", "HyperOptSearch"),
        ("bayesopt", "bayes_opt", "BayesOptSearch"),
        ("nevergrad", "nevergrad", "NevergradSearch"),
    ]:
        pytest.importorskip(library)
        searcher = tune.create_searcher(name, metric="loss", mode="max")
        assert type(searcher).__name__ == cls
        assert (searcher.metric, searcher.mode) == ("loss", "max")


def test_arguments_a_searcher_does_not_take_are_left_out_with_a_warning():
    with pytest.warns(UserWarning, match=r"BasicVariantGenerator takes no \['metric'\]"):
        searcher = tune.create_searcher("random", metric="loss", random_state=1)
    assert isinstance(searcher, BasicVariantGenerator)


def test_unknown_names_list_the_available_ones():
    with pytest.raises(ValueError, match=r"search_alg is 'ax', but must be one of \['bayesopt'"):
        tune.create_searcher("ax")
    with pytest.raises(ValueError, match="search_alg is 3, but must be a name"):
        tune.create_searcher(3)


def test_schedulers_by_name():
    assert isinstance(tune.create_scheduler("fifo"), FIFOScheduler)
    assert isinstance(tune.create_scheduler("FIFO"), FIFOScheduler)
    with pytest.raises(ValueError, match=r"scheduler is 'nope', but must be one of \[.*'fifo'"):
        tune.create_scheduler("nope")


def test_the_facade_exports_them():
    assert {"create_searcher", "create_scheduler"} <= set(tune.__all__)
    from overtone.tune.search import Repeater  # noqa: F401
