from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

from overtone.search import (
    BasicVariantGenerator,
    Searcher,
    choice,
    grid_search,
    sample_from,
    uniform,
)

SPACE = {"a": grid_search([1, 2, 3]), "u": uniform(0, 1), "c": 7}


def make(space=SPACE, num_samples=1, seed=None, **kwargs):
    gen = BasicVariantGenerator(**kwargs)
    spec = {"num_samples": num_samples}
    if seed is not None:
        spec["seed"] = seed
    assert gen.set_search_properties("loss", "min", space, **spec)
    return gen


def drain(gen, prefix="t", complete=True):
    out = []
    while True:
        trial_id = f"{prefix}{len(out)}"
        config = gen.suggest(trial_id)
        if config == Searcher.FINISHED:
            return out
        assert config is not None
        out.append(config)
        if complete:
            gen.on_trial_complete(trial_id, {"loss": 0})


def test_grid_times_num_samples_in_order_then_finished():
    gen = make(num_samples=2, random_state=0)
    assert gen.controls_trial_count is True
    assert gen.total_samples == 6
    got = drain(gen)
    assert [c["a"] for c in got] == [1, 2, 3, 1, 2, 3]
    assert all(c["c"] == 7 and 0 <= c["u"] <= 1 for c in got)
    assert len({c["u"] for c in got}) == 6
    assert gen.suggest("again") == Searcher.FINISHED


def test_metric_and_mode_from_search_properties():
    gen = make()
    assert (gen.metric, gen.mode) == ("loss", "min")


def test_same_seed_same_sequence():
    by_random_state = drain(make(num_samples=3, random_state=11))
    assert by_random_state == drain(make(num_samples=3, random_state=11))
    assert by_random_state == drain(make(num_samples=3, seed=11))
    assert by_random_state != drain(make(num_samples=3, random_state=12))
    gen_a = drain(make(num_samples=3, random_state=np.random.default_rng(5)))
    gen_b = drain(make(num_samples=3, random_state=np.random.default_rng(5)))
    assert gen_a == gen_b


def test_random_state_wins_over_spec_seed():
    assert drain(make(random_state=1, seed=2)) == drain(make(random_state=1, seed=3))


def test_no_seed_gives_different_sequences():
    assert drain(make(num_samples=3)) != drain(make(num_samples=3))


def test_points_to_evaluate_come_first_and_take_a_repetition():
    points = [{"a": 10, "u": 0.5}]
    gen = make(num_samples=3, random_state=0, points_to_evaluate=points)
    # the point fixes the grid variable: 1 config, then 2 repetitions of 3
    assert gen.total_samples == 1 + 2 * 3
    got = drain(gen)
    assert got[0] == {"a": 10, "u": 0.5, "c": 7}
    assert [c["a"] for c in got[1:]] == [1, 2, 3, 1, 2, 3]


def test_partial_point_is_filled_and_expanded_over_open_grid():
    gen = make(num_samples=1, random_state=0, points_to_evaluate=[{"u": 0.25}])
    assert gen.total_samples == 3
    got = drain(gen)
    assert [(c["a"], c["u"]) for c in got] == [(1, 0.25), (2, 0.25), (3, 0.25)]


def test_point_missing_sampled_key_gets_a_sample():
    gen = make(num_samples=2, random_state=0, points_to_evaluate=[{"a": 2}])
    first = gen.suggest("p")
    assert first["a"] == 2 and 0 <= first["u"] <= 1


def test_more_points_than_num_samples_all_run():
    points = [{"a": 1, "u": 0.1}, {"a": 2, "u": 0.2}, {"a": 3, "u": 0.3}]
    gen = make(num_samples=1, random_state=0, points_to_evaluate=points)
    assert gen.total_samples == 3
    assert [(c["a"], c["u"]) for c in drain(gen)] == [(1, 0.1), (2, 0.2), (3, 0.3)]


def test_nested_point_merges_into_nested_space():
    space = {"model": {"lr": uniform(0, 1), "depth": 3}}
    gen = make(space, random_state=0, points_to_evaluate=[{"model": {"lr": 0.5}}])
    assert gen.suggest("p") == {"model": {"lr": 0.5, "depth": 3}}
    assert gen.last_resolved_vars("p") == {("model", "lr"): 0.5}


def test_points_are_not_aliased():
    points = [{"a": 1, "u": 0.5}]
    gen = make(random_state=0, points_to_evaluate=points)
    points[0]["u"] = 0.9
    assert gen.suggest("p")["u"] == 0.5


def test_last_resolved_vars_for_tags():
    gen = make(num_samples=2, random_state=0, points_to_evaluate=[{"a": 5, "u": 0.5}])
    gen.suggest("p")
    gen.suggest("t")
    assert gen.last_resolved_vars("p") == {("a",): 5, ("u",): 0.5}
    resolved = gen.last_resolved_vars("t")
    assert set(resolved) == {("a",), ("u",)} and resolved[("a",)] == 1
    gen.on_trial_complete("t")
    with pytest.raises(KeyError, match="'t'"):
        gen.last_resolved_vars("t")


def test_max_concurrent_waits_for_completions():
    gen = make(num_samples=2, random_state=0, max_concurrent=2)
    assert gen.suggest("0") is not None
    assert gen.suggest("1") is not None
    assert gen.suggest("2") is None
    gen.on_trial_result("0", {"loss": 1})
    assert gen.suggest("2") is None
    gen.on_trial_complete("0", {"loss": 1})
    assert gen.suggest("2") is not None
    assert gen.suggest("3") is None
    gen.on_trial_complete("unknown")  # not an error
    gen.on_trial_complete("1")
    gen.on_trial_complete("2")
    assert len(drain(gen, prefix="x")) == 3


def test_constant_grid_search_keeps_samples_per_repetition():
    gen = make(num_samples=2, random_state=0, constant_grid_search=True)
    got = drain(gen)
    assert len({c["u"] for c in got[:3]}) == 1
    assert len({c["u"] for c in got[3:]}) == 1
    assert got[0]["u"] != got[3]["u"]


def test_sample_from_in_space():
    space = {"a": grid_search([1, 2]), "b": sample_from(lambda spec: spec.config.a + 1)}
    assert [c["b"] for c in drain(make(space, random_state=0))] == [2, 3]


@pytest.mark.parametrize("stop_after", [0, 1, 2, 4, 5, 7, 9])
def test_state_round_trip_continues_without_repeats(stop_after):
    space = {"a": grid_search([1, 2, 3]), "u": uniform(0, 1), "v": choice(list(range(1000)))}
    kwargs = {"num_samples": 3, "random_state": 4, "points_to_evaluate": [{"u": 0.5}]}
    full = drain(make(space, **kwargs))
    assert len(full) == 3 + 2 * 3

    gen = make(space, **kwargs)
    before = [gen.suggest(f"t{i}") for i in range(stop_after)]
    state = pickle.loads(pickle.dumps(gen.get_state()))

    restored = make(space, num_samples=3)  # fresh, no seed of its own
    restored.set_state(state)
    after = drain(restored, prefix="r")
    assert before + after == full


def test_set_state_before_set_search_properties():
    gen = make(num_samples=2, random_state=3)
    first = [gen.suggest("0"), gen.suggest("1")]
    state = pickle.loads(pickle.dumps(gen.get_state()))
    restored = BasicVariantGenerator()
    restored.set_state(state)
    restored.set_search_properties("loss", "min", SPACE, num_samples=2)
    assert restored.total_samples == 6
    assert first + drain(restored) == drain(make(num_samples=2, random_state=3))


def test_restored_generator_keeps_live_trials_and_limit():
    gen = make(num_samples=2, random_state=0, max_concurrent=1)
    gen.suggest("0")
    restored = make(num_samples=2)
    restored.set_state(pickle.loads(pickle.dumps(gen.get_state())))
    assert restored.suggest("1") is None
    restored.on_trial_complete("0")
    assert restored.suggest("1") is not None


def test_save_and_restore_files(tmp_path):
    gen = make(num_samples=2, random_state=9)
    first = gen.suggest("0")
    gen.save(str(tmp_path / "searcher.pkl"))
    restored = make(num_samples=2)
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert [first, *drain(restored)] == drain(make(num_samples=2, random_state=9))


def test_space_with_lambdas_state_still_pickles():
    space = {"a": grid_search([1, 2]), "b": sample_from(lambda spec: spec.config.a)}
    gen = make(space, random_state=0)
    gen.suggest("0")
    pickle.dumps(gen.get_state())


def test_huge_grid_is_lazy():
    space = {f"g{i}": grid_search(list(range(100))) for i in range(3)}
    gen = make(space, num_samples=1000, random_state=0)
    assert gen.total_samples == 10**9
    start = time.perf_counter()
    assert gen.suggest("0") == {"g0": 0, "g1": 0, "g2": 0}
    assert gen.suggest("1") == {"g0": 1, "g1": 0, "g2": 0}
    assert time.perf_counter() - start < 1.0


def test_suggest_before_space_raises():
    with pytest.raises(RuntimeError, match="set_search_properties"):
        BasicVariantGenerator().suggest("0")
    assert BasicVariantGenerator().total_samples == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_concurrent": -1}, "max_concurrent is -1, but must be >= 0"),
        ({"max_concurrent": 1.5}, "max_concurrent is 1.5, but must be an integer"),
        ({"random_state": "x"}, "random_state is 'x', but must be an int"),
        ({"random_state": -3}, "random_state is -3, but must be >= 0"),
        ({"points_to_evaluate": [{"a": 1}, 3]}, "points_to_evaluate[1] is 3, but must be a dict"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as info:
        BasicVariantGenerator(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"num_samples": 0}, "num_samples is 0, but must be >= 1"),
        ({"num_samples": "3"}, "num_samples is '3', but must be an integer"),
    ],
)
def test_bad_spec(spec, message):
    with pytest.raises(ValueError) as info:
        BasicVariantGenerator().set_search_properties(None, None, SPACE, **spec)
    assert message in str(info.value)


def test_malformed_space_rejected_at_set_search_properties():
    with pytest.raises(ValueError, match="grid_search at 'a' is 1"):
        BasicVariantGenerator().set_search_properties(None, None, {"a": {"grid_search": 1}})
