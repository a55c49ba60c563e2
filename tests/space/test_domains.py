from __future__ import annotations

import math
import random

import numpy as np
import pytest

from overtone.space import (
    Categorical,
    Float,
    Function,
    Integer,
    Normal,
    choice,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)

N = 4000


def draw(domain, n=N, seed=0):
    rng = np.random.default_rng(seed)
    return [domain.sample(rng) for _ in range(n)]


def test_uniform_bounds_type_and_mean():
    values = draw(uniform(-2, 4))
    assert all(type(v) is float for v in values)
    assert all(-2 <= v <= 4 for v in values)
    assert np.mean(values) == pytest.approx(1.0, abs=0.1)
    assert min(values) < -1.9 and max(values) > 3.9


def test_quniform_values_are_multiples_in_range():
    values = draw(quniform(0, 1, 0.25))
    assert set(values) == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert all(type(v) is float for v in values)


def test_quniform_float_bounds_that_are_multiples_of_q():
    # 0.3 / 0.1 is 2.999..., so a naive floor would lose the upper bound.
    values = draw(quniform(0.1, 0.3, 0.1))
    assert all(0.1 <= v <= 0.3 for v in values)
    assert {round(v, 9) for v in values} == {0.1, 0.2, 0.3}


def test_quniform_clips_into_range_when_bounds_are_not_multiples():
    values = draw(quniform(0.05, 0.95, 0.2))
    assert {round(v, 9) for v in values} == {0.2, 0.4, 0.6, 0.8}


def test_loguniform_is_log_spaced():
    values = np.array(draw(loguniform(1e-4, 1)))
    assert values.min() >= 1e-4 and values.max() <= 1
    logs = np.log10(values)
    assert logs.mean() == pytest.approx(-2.0, abs=0.1)
    # a quarter of the mass in each decade
    assert np.mean(values < 1e-3) == pytest.approx(0.25, abs=0.03)
    assert np.mean(values > 1e-1) == pytest.approx(0.25, abs=0.03)


def test_loguniform_base_does_not_change_range():
    values = draw(loguniform(1, 1024, base=2), n=500)
    assert all(1 <= v <= 1024 for v in values)
    assert loguniform(1, 1024, base=2).base == 2


def test_qloguniform_multiples_and_log_spacing():
    values = np.array(draw(qloguniform(1e-3, 1, 1e-3)))
    assert values.min() >= 1e-3 and values.max() <= 1
    assert np.allclose(np.round(values / 1e-3) * 1e-3, values)
    assert np.mean(values < 0.0316) == pytest.approx(0.5, abs=0.05)


def test_randn_moments():
    values = np.array(draw(randn(3.0, 2.0)))
    assert all(type(v) is float for v in values.tolist())
    assert values.mean() == pytest.approx(3.0, abs=0.1)
    assert values.std() == pytest.approx(2.0, abs=0.1)


def test_qrandn_multiples():
    values = np.array(draw(qrandn(0, 1, 0.5)))
    assert np.allclose(values * 2, np.round(values * 2))
    assert values.std() == pytest.approx(1.0, abs=0.1)


def test_randint_excludes_upper():
    values = draw(randint(0, 3))
    assert all(type(v) is int for v in values)
    assert set(values) == {0, 1, 2}
    counts = np.bincount(values) / len(values)
    assert np.allclose(counts, 1 / 3, atol=0.03)


def test_qrandint_includes_upper_and_quantizes():
    values = draw(qrandint(0, 10, 5))
    assert all(type(v) is int for v in values)
    assert set(values) == {0, 5, 10}
    assert set(draw(qrandint(1, 4))) == {1, 2, 3, 4}
    assert set(draw(qrandint(5, 5))) == {5}


def test_qrandint_bounds_not_multiples_of_q():
    domain = qrandint(1, 9, 3)
    assert (domain.low, domain.high) == (3, 9)
    assert set(draw(domain)) == {3, 6, 9}


def test_lograndint_excludes_upper_and_is_log_spaced():
    values = np.array(draw(lograndint(1, 1000)))
    assert values.min() >= 1 and values.max() <= 999
    assert values.dtype.kind == "i"
    assert np.mean(values < 10) == pytest.approx(1 / 3, abs=0.03)
    assert np.mean(values >= 100) == pytest.approx(1 / 3, abs=0.03)
    assert set(draw(lograndint(1, 3))) == {1, 2}


def test_qlograndint_includes_upper_and_quantizes():
    values = draw(qlograndint(10, 1000, 10))
    assert all(type(v) is int and v % 10 == 0 and 10 <= v <= 1000 for v in values)
    assert 1000 in values and 10 in values
    assert np.mean(np.array(values) < 100) == pytest.approx(0.5, abs=0.05)


def test_choice_returns_elements_themselves():
    a, b = {"x": 1}, [2]
    values = draw(choice([a, b, "c"]))
    assert any(v is a for v in values) and any(v is b for v in values)
    assert values.count("c") / N == pytest.approx(1 / 3, abs=0.03)
    assert draw(choice(range(2)), n=50).count(2) == 0


def test_choice_of_mixed_types_keeps_types():
    values = set(map(repr, draw(choice([1, "1", 1.5, None]), n=200)))
    assert values == {"1", "'1'", "1.5", "None"}


def test_sample_from_with_and_without_spec():
    assert sample_from(lambda spec: spec * 2).sample(np.random.default_rng(), spec=21) == 42
    assert sample_from(lambda: 7).sample(np.random.default_rng()) == 7
    assert sample_from(lambda spec: 1).pass_spec
    assert not sample_from(lambda: 1).pass_spec


def test_grid_search_is_plain_dict():
    assert grid_search([1, 2]) == {"grid_search": [1, 2]}
    assert grid_search((1, 2)) == {"grid_search": [1, 2]}
    assert grid_search(x for x in "ab") == {"grid_search": ["a", "b"]}


def test_same_seed_same_values_and_no_global_random_state():
    np_state = np.random.get_state()[1].copy()
    py_state = random.getstate()
    domains = [uniform(0, 1), loguniform(1e-3, 1), randint(0, 100), choice(list("abc")), randn()]
    first = [draw(d, n=20, seed=7) for d in domains]
    assert first == [draw(d, n=20, seed=7) for d in domains]
    assert first != [draw(d, n=20, seed=8) for d in domains]
    assert (np.random.get_state()[1] == np_state).all()
    assert random.getstate() == py_state


def test_introspection():
    d = qloguniform(1e-3, 1, 1e-3, base=2)
    assert isinstance(d, Float) and d.log and d.q == 1e-3 and d.base == 2
    assert (d.lower, d.upper) == (1e-3, 1.0)
    assert d.domain_str == "qloguniform(0.001, 1.0, q=0.001, base=2)"
    assert "Float" in repr(d) and "qloguniform" in repr(d)
    i = randint(0, 10)
    assert isinstance(i, Integer) and not i.inclusive and (i.low, i.high) == (0, 9)
    assert i.domain_str == "randint(0, 10)"
    q = qrandint(0, 10, 5)
    assert q.inclusive and q.q == 5 and (q.low, q.high) == (0, 10)
    assert isinstance(randn(1, 2), Normal) and randn(1, 2).sd == 2.0
    assert isinstance(choice([1]), Categorical) and choice([1]).categories == [1]
    assert isinstance(sample_from(len), Function) and sample_from(len).is_function()
    assert not uniform(0, 1).is_function()


def test_is_valid():
    assert uniform(0, 1).is_valid(0.5) and not uniform(0, 1).is_valid(2)
    assert quniform(0, 1, 0.25).is_valid(0.75) and not quniform(0, 1, 0.25).is_valid(0.3)
    assert randint(0, 3).is_valid(2) and not randint(0, 3).is_valid(3)
    assert not randint(0, 3).is_valid(1.0) and not randint(0, 3).is_valid(True)
    assert qrandint(0, 10, 5).is_valid(10) and not qrandint(0, 10, 5).is_valid(4)
    assert choice(["a"]).is_valid("a") and not choice(["a"]).is_valid("b")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: loguniform(0, 1), "loguniform lower is 0, but must be > 0"),
        (lambda: loguniform(-1, 1), "loguniform lower is -1, but must be > 0"),
        (lambda: qloguniform(0.0, 1, 0.1), "qloguniform lower is 0.0, but must be > 0"),
        (lambda: randint(5, 5), "randint lower (5) must be < upper (5)"),
        (lambda: randint(6, 5), "randint lower (6) must be < upper (5)"),
        (lambda: qrandint(6, 5), "qrandint lower (6) must be <= upper (5)"),
        (lambda: lograndint(0, 5), "lograndint lower is 0, but must be > 0"),
        (lambda: qlograndint(0, 5, 1), "qlograndint lower is 0, but must be > 0"),
        (lambda: choice([]), "choice categories are empty, but at least one is needed"),
        (lambda: choice(3), "choice categories is 3, but must be a list"),
        (lambda: choice("abc"), "choice categories is 'abc', but must be a list"),
        (lambda: quniform(0, 1, 0), "quniform q is 0, but must be > 0"),
        (lambda: quniform(0, 1, -0.5), "quniform q is -0.5, but must be > 0"),
        (lambda: qrandint(0, 10, 0), "qrandint q is 0, but must be > 0"),
        (lambda: qrandint(0, 10, 2.5), "qrandint q is 2.5, but must be an integer"),
        (lambda: qrandn(0, 1, 0), "qrandn q is 0, but must be > 0"),
        (lambda: randn(0, 0), "randn sd is 0, but must be > 0"),
        (lambda: randn(0, -1.5), "randn sd is -1.5, but must be > 0"),
        (lambda: uniform(1, 1), "uniform lower (1) must be < upper (1)"),
        (lambda: uniform(2, 1.5), "uniform lower (2) must be < upper (1.5)"),
        (lambda: uniform("a", 1), "uniform lower is 'a', but must be a finite number"),
        (lambda: uniform(0, math.inf), "uniform upper is inf, but must be a finite number"),
        (lambda: randint(0.5, 3), "randint lower is 0.5, but must be an integer"),
        (lambda: loguniform(1, 10, base=1), "loguniform base is 1, but must be > 0 and != 1"),
        (lambda: quniform(0.1, 0.2, 0.5), "quniform has no multiple of q (0.5)"),
        (lambda: qrandint(1, 4, 5), "qrandint has no multiple of q (5) between lower (1)"),
        (lambda: sample_from(3), "sample_from func is 3, but must be callable"),
        (lambda: grid_search([]), "grid_search values are empty, but at least one is needed"),
        (lambda: grid_search(3), "grid_search values is 3, but must be a list of values"),
        (lambda: grid_search("ab"), "grid_search values is 'ab', but must be a list"),
    ],
)
def test_bad_arguments_raise_value_error_naming_value(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_search_and_tune_re_export_the_space_unchanged():
    import overtone.search
    import overtone.space
    from overtone import tune

    for name in overtone.space.__all__:
        if name == "is_grid_search":
            continue  # a helper of the package, not part of the public API
        assert getattr(overtone.search, name) is getattr(overtone.space, name), name
        if name in tune.__all__:  # the functions; the classes are in tune.search
            assert getattr(tune, name) is getattr(overtone.space, name), name
        assert getattr(tune.search, name) is getattr(overtone.space, name), name
