"""Pareto utilities: non-dominated sorting, tie-breaks, hypervolume, argument checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from overtone._pareto import (
    check_objectives,
    crowding_distance,
    eps_net_order,
    hypervolume,
    non_dominated_sort,
    pareto_mask,
    pareto_order,
    to_minimize,
)


def _brute_fronts(points):
    """Fronts by definition: peel off the points nobody left dominates."""
    left = list(range(len(points)))
    fronts = []
    while left:
        front = [
            i
            for i in left
            if not any(
                all(points[j][k] <= points[i][k] for k in range(len(points[i])))
                and any(points[j][k] < points[i][k] for k in range(len(points[i])))
                for j in left
            )
        ]
        fronts.append(sorted(front))
        left = [i for i in left if i not in front]
    return fronts


@pytest.mark.parametrize("d", [2, 3])
def test_non_dominated_sort_matches_the_definition(d):
    rng = np.random.default_rng(0)
    points = rng.integers(0, 6, size=(40, d)).astype(float)  # ties and duplicates
    fronts = [sorted(f.tolist()) for f in non_dominated_sort(points)]
    assert fronts == _brute_fronts(points.tolist())
    assert pareto_mask(points).tolist() == [i in fronts[0] for i in range(40)]


def test_pareto_order_is_front_by_front_and_a_permutation():
    rng = np.random.default_rng(1)
    points = rng.random((30, 2))
    fronts = non_dominated_sort(points)
    rank = {int(i): r for r, f in enumerate(fronts) for i in f}
    for tie_break in ("eps_net", "crowding"):
        order = pareto_order(points, tie_break)
        assert sorted(order.tolist()) == list(range(30))
        assert [rank[i] for i in order] == sorted(rank[i] for i in order)
    with pytest.raises(ValueError, match="tie_break is 'random', but must be one of"):
        pareto_order(points, "random")


def test_tie_breaks_spread_along_the_front():
    # A front of 11 points on a line: the ε-net takes the ends and the middle before
    # neighbours; crowding distance puts the two ends first.
    xs = np.linspace(0, 1, 11)
    front = np.stack([xs, 1 - xs], axis=1)
    order = eps_net_order(front).tolist()
    assert order[:3] == [0, 10, 5]  # equal sums: the first; then the far end; the middle
    assert sorted(order) == list(range(11))
    distance = crowding_distance(front)
    assert np.isinf(distance[[0, 10]]).all() and np.isfinite(distance[1:10]).all()


def test_hypervolume_exact_in_two_and_three_dimensions():
    assert hypervolume([[1, 1]], [2, 2]) == pytest.approx(1.0)
    assert hypervolume([[0, 1], [1, 0]], [2, 2]) == pytest.approx(3.0)
    assert hypervolume([[0, 1], [1, 0], [1, 1]], [2, 2]) == pytest.approx(3.0)  # dominated
    assert hypervolume([[3, 0]], [2, 2]) == 0.0  # beyond the reference
    assert hypervolume(np.zeros((0, 2)), [1, 1]) == 0.0
    rng = np.random.default_rng(3)
    for d in (2, 3):
        points = rng.random((8, d))
        ref = np.ones(d)
        # Inclusion-exclusion over the boxes [p, ref]: exact, for small sets.
        exact = 0.0
        for r in range(1, len(points) + 1):
            for subset in itertools.combinations(points, r):
                corner = np.max(subset, axis=0)
                exact += (-1) ** (r + 1) * float(np.prod(ref - corner))
        assert hypervolume(points, ref) == pytest.approx(exact)


def test_to_minimize_signs_and_missing_values():
    result = {"loss": 2.0, "acc": 0.5, "nested": {"lat": 3}}
    assert to_minimize(result, ["loss", "acc"], ["min", "max"]) == (2.0, -0.5)
    assert to_minimize(result, ["nested/lat"], ["min"]) == (3.0,)
    assert to_minimize(result, ["loss", "missing"], ["min", "min"]) is None
    assert to_minimize({"loss": float("nan")}, ["loss"], ["max"]) == (float("inf"),)


@pytest.mark.parametrize(
    ("metric", "mode", "message"),
    [
        (["a", "b"], ["min"], "metric has 2 entries and mode 1"),
        (["a", "b"], ["min", "up"], r"mode is \['min', 'up'\], but each entry must be"),
        ([], "min", "metric is an empty list"),
        (["a", "a"], "min", "must not name a key twice"),
        ("a", ["min", "max"], "mode is the list"),
        (["a", 3], "min", "every entry must be a result key"),
    ],
)
def test_check_objectives_errors(metric, mode, message):
    with pytest.raises(ValueError, match=message):
        check_objectives(metric, mode)


def test_check_objectives_spreads_one_mode():
    assert check_objectives(("a", "b"), "max") == (["a", "b"], ["max", "max"])
    assert check_objectives("a", "min") == ("a", "min")
