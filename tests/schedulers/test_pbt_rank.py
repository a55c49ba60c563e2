"""PBT's ranking: quantiles of the population, and a state saved before it had its own class."""

from __future__ import annotations

from overtone.schedulers import PopulationBasedTraining
from overtone.schedulers._pbt_rank import Ranking


def test_quantiles_follow_the_latest_scores() -> None:
    ranking = Ranking(0.25)
    for i, score in enumerate([3.0, 1.0, 4.0, 1.5, 9.0, 2.0, 6.0, 5.0]):
        ranking.set(f"t{i}", score)
    assert ranking.quantile_size() == 2
    assert ranking.quantiles() == (["t1", "t3"], ["t6", "t4"])
    assert ranking.in_lower("t3") and not ranking.in_lower("t0")
    assert ranking.top(0) == "t6" and ranking.top(1) == "t4"
    ranking.set("t3", 10.0)  # a new score replaces the old one
    ranking.remove("t1")
    assert len(ranking) == 7
    assert ranking.quantiles() == (["t5", "t0"], ["t4", "t3"])
    assert not ranking.in_lower("t1")


def test_a_population_of_one_has_no_quantiles() -> None:
    ranking = Ranking(0.5)
    ranking.set("a", 1.0)
    assert ranking.quantile_size() == 0
    assert ranking.quantiles() == ([], [])
    assert not ranking.in_lower("a")


def test_state_saved_with_the_ranking_inline_is_restored() -> None:
    pbt = PopulationBasedTraining(
        metric="m", mode="max", hyperparam_mutations={"lr": [0.1, 0.2]}, quantile_fraction=0.5
    )
    old = pbt.get_state()
    del old["_ranking"]
    old["_ranked"] = [(1.0, "b"), (2.0, "a"), (3.0, "c"), (4.0, "d")]
    old["_rank_key"] = {t: (s, t) for s, t in old["_ranked"]}
    fresh = PopulationBasedTraining(
        metric="m", mode="max", hyperparam_mutations={"lr": [0.1, 0.2]}, quantile_fraction=0.5
    )
    fresh.set_state(old)
    assert "_ranked" not in vars(fresh) and "_rank_key" not in vars(fresh)
    assert fresh._ranking.quantiles() == (["b", "a"], ["c", "d"])
