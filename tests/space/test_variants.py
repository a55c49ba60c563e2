from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from overtone.space import choice, grid_search, randint, sample_from, uniform
from overtone.space._variants import (
    count_grid_variants,
    format_vars,
    generate_variants,
    validate_space,
)


def variants(space, seed=0, **kwargs):
    return list(generate_variants(space, np.random.default_rng(seed), **kwargs))


def configs(space, seed=0, **kwargs):
    return [c for _, c in variants(space, seed, **kwargs)]


def test_constants_only_yields_one_copy():
    space = {"a": 1, "b": {"c": [1, 2]}}
    [(resolved, config)] = variants(space)
    assert resolved == {}
    assert config == space
    config["b"]["c"].append(3)
    assert space == {"a": 1, "b": {"c": [1, 2]}}


def test_grid_cross_product_first_variable_fastest():
    space = {"a": grid_search([1, 2]), "x": 0, "b": grid_search(["p", "q", "r"])}
    got = [(c["a"], c["b"]) for c in configs(space)]
    assert got == [(1, "p"), (2, "p"), (1, "q"), (2, "q"), (1, "r"), (2, "r")]
    assert count_grid_variants(space) == 6


def test_three_grids_order_and_count():
    space = {"a": grid_search([0, 1]), "b": grid_search([0, 1, 2]), "c": grid_search([0, 1])}
    got = [(c["a"], c["b"], c["c"]) for c in configs(space)]
    expected = [(a, b, c) for c, b, a in itertools.product([0, 1], [0, 1, 2], [0, 1])]
    assert got == expected
    assert len(got) == count_grid_variants(space) == 12


def test_resolved_vars_hold_paths_of_sampled_entries_only():
    space = {
        "lr": uniform(0, 1),
        "const": 5,
        "model": {"layers": [randint(1, 4), 64], "act": grid_search(["relu", "tanh"])},
    }
    for resolved, config in variants(space):
        assert set(resolved) == {("lr",), ("model", "layers", 0), ("model", "act")}
        assert resolved[("lr",)] == config["lr"]
        assert resolved[("model", "layers", 0)] == config["model"]["layers"][0]
        assert config["model"]["layers"][1] == 64 and config["const"] == 5


def test_domains_resampled_per_combination_unless_constant():
    space = {"g": grid_search(list(range(5))), "u": uniform(0, 1)}
    assert len({c["u"] for c in configs(space)}) == 5
    assert len({c["u"] for c in configs(space, constant_grid_search=True)}) == 1


def test_same_rng_same_variants():
    space = {"g": grid_search([1, 2]), "u": uniform(0, 1), "c": choice(list(range(100)))}
    assert configs(space, seed=3) == configs(space, seed=3)
    assert configs(space, seed=3) != configs(space, seed=4)


def test_configs_do_not_share_containers():
    space = {"g": grid_search([1, 2]), "nested": {"items": [1, 2]}}
    first, second = configs(space)
    first["nested"]["items"].append(3)
    assert second["nested"]["items"] == [1, 2]
    assert space["nested"]["items"] == [1, 2]


def test_grid_values_holding_domains_and_grids_are_expanded():
    space = {
        "opt": grid_search(
            [{"name": "sgd", "lr": uniform(0, 1)}, {"name": "adam", "beta": grid_search([1, 2])}]
        ),
        "seed": grid_search([0, 1]),
    }
    assert count_grid_variants(space) == 6
    got = variants(space)
    assert len(got) == 6
    for resolved, config in got:
        if config["opt"]["name"] == "sgd":
            assert 0 <= config["opt"]["lr"] <= 1
            assert resolved[("opt", "lr")] == config["opt"]["lr"]
        else:
            assert config["opt"]["beta"] in (1, 2)
        # the grid path shows the final value, not the raw grid entry
        assert resolved[("opt",)] == config["opt"]


def test_sample_from_attribute_and_item_access_nested():
    space = {
        "a": grid_search([1, 2]),
        "model": {"lr": 0.5},
        "b": sample_from(lambda spec: spec.config.a * spec["config"]["model"]["lr"]),
        "c": sample_from(lambda spec: spec.config.model.lr + 1),
    }
    got = configs(space)
    assert [(c["b"], c["c"]) for c in got] == [(0.5, 1.5), (1.0, 1.5)]


def test_sample_from_sees_sampled_domains():
    space = {"u": uniform(0, 1), "twice": sample_from(lambda spec: 2 * spec.config.u)}
    for resolved, config in variants(space):
        assert config["twice"] == 2 * config["u"]
        assert resolved[("twice",)] == config["twice"]


def test_sample_from_chain_defined_in_reverse_order():
    calls = []

    def third(spec):
        calls.append("third")
        return spec.config.second + 1

    space = {
        "third": sample_from(third),
        "second": sample_from(lambda spec: spec.config.first * 10),
        "first": sample_from(lambda spec: spec.config.base + 1),
        "base": 1,
    }
    [config] = configs(space)
    assert (config["first"], config["second"], config["third"]) == (2, 20, 21)
    assert len(calls) == 3  # retried until its input was ready


def test_sample_from_reading_list_items_and_iterating():
    space = {
        "layers": [randint(1, 5), 8],
        "total": sample_from(lambda spec: sum(spec.config.layers)),
        "n": sample_from(lambda spec: len(spec.config.layers)),
        "keys": sample_from(lambda spec: sorted(k for k in spec.config if k == "layers")),
    }
    [config] = configs(space)
    assert config["total"] == config["layers"][0] + 8
    assert config["n"] == 2 and config["keys"] == ["layers"]


def test_sample_from_without_arguments():
    [config] = configs({"x": sample_from(lambda: 4)})
    assert config == {"x": 4}


def test_sample_from_cycle_raises_naming_paths():
    space = {
        "a": sample_from(lambda spec: spec.config.b),
        "nested": {"b2": sample_from(lambda spec: spec.config.a)},
        "b": sample_from(lambda spec: spec.config.nested.b2),
        "ok": sample_from(lambda spec: 1),
    }
    with pytest.raises(ValueError) as info:
        configs(space)
    message = str(info.value)
    assert "'a', 'nested/b2', 'b'" in message
    assert "depend on each other and cannot be resolved" in message
    assert "'ok'" not in message


def test_sample_from_reading_itself_is_a_cycle():
    with pytest.raises(ValueError, match="sample_from values at 'x' depend on each other"):
        configs({"x": sample_from(lambda spec: spec.config.x)})


def test_sample_from_error_is_wrapped_naming_path():
    def broken(spec):
        raise RuntimeError("boom")

    with pytest.raises(ValueError, match="sample_from at 'm/f' raised RuntimeError: boom") as info:
        configs({"m": {"f": sample_from(broken)}})
    assert isinstance(info.value.__cause__, RuntimeError)


def test_sample_from_missing_key_names_it():
    with pytest.raises(ValueError, match="'config' has no key 'nope'"):
        configs({"x": sample_from(lambda spec: spec.config.nope)})
    with pytest.raises(ValueError, match="'model' has no key 'depth'"):
        configs({"model": {}, "x": sample_from(lambda spec: spec["config"]["model"]["depth"])})


def test_sample_from_broad_except_cannot_hide_unresolved():
    def careful(spec):
        try:
            return spec.config.other + 1
        except Exception:
            return "swallowed"

    [config] = configs({"a": sample_from(careful), "other": sample_from(lambda: 1)})
    assert config["a"] == 2


def test_sample_from_get_and_contains():
    space = {"a": 1, "x": sample_from(lambda spec: (spec.config.get("zz", 9), "a" in spec.config))}
    assert configs(space)[0]["x"] == (9, True)


def test_huge_grid_is_lazy():
    space = {f"g{i}": grid_search(list(range(1000))) for i in range(3)}
    assert count_grid_variants(space) == 10**9
    start = time.perf_counter()
    it = generate_variants(space, np.random.default_rng(0))
    first = [next(it)[1] for _ in range(3)]
    assert time.perf_counter() - start < 1.0
    assert [c["g0"] for c in first] == [0, 1, 2] and first[2]["g1"] == 0


def test_count_without_grids_is_one():
    assert count_grid_variants({"u": uniform(0, 1), "c": 3}) == 1
    assert count_grid_variants({"l": [grid_search([1, 2]), grid_search([1, 2, 3])]}) == 6


@pytest.mark.parametrize(
    "space, message",
    [
        ([1], "param space is a list, but must be a dict"),
        ({"a": {"grid_search": 3}}, "grid_search at 'a' is 3, but must be a list or tuple"),
        ({"m": {"a": {"grid_search": "ab"}}}, "grid_search at 'm/a' is 'ab'"),
        ({"a": {"grid_search": []}}, "grid_search at 'a' is empty"),
        ({"a": {"grid_search": [1], "x": 2}}, "beside other keys ['x']"),
        ({"a": [{"grid_search": 1}]}, "grid_search at 'a/0' is 1"),
    ],
)
def test_validate_space_rejects_malformed(space, message):
    with pytest.raises(ValueError) as info:
        validate_space(space)
    assert message in str(info.value)


def test_generate_variants_validates():
    with pytest.raises(ValueError, match="grid_search at 'a'"):
        configs({"a": {"grid_search": 5}})


def test_validate_space_accepts_tuple_grids():
    validate_space({"a": {"grid_search": (1, 2)}, "b": [uniform(0, 1)]})
    assert [c["a"] for c in configs({"a": {"grid_search": (1, 2)}})] == [1, 2]


def test_format_vars():
    assert format_vars({("beta",): 2, ("alpha",): 0.001}) == "alpha=0.001,beta=2"
    assert format_vars({("lr",): 0.000123456789}) == "lr=0.00012346"
    assert format_vars({("lr",): 1.5e-7, ("n",): 123456.0}) == "lr=1.5e-07,n=1.2346e05"
    assert format_vars({("x",): np.float32(0.5), ("y",): True}) == "x=0.5,y=True"
    assert format_vars({}) == ""


def test_format_vars_collisions_use_full_path_and_list_items_keep_parent():
    resolved = {("a", "lr"): 0.1, ("b", "lr"): 0.2, ("model", "layers", 0): 64, ("u",): 1}
    assert format_vars(resolved) == "a.lr=0.1,b.lr=0.2,layers.0=64,u=1"


def test_format_vars_is_filesystem_safe():
    tag = format_vars({("act",): "relu/x y", ("opt",): {"name": "sgd"}, ("t",): (1, 2)})
    assert tag == "act=relu_x_y,opt=name_sgd,t=1_2"
    assert "/" not in tag and " " not in tag
