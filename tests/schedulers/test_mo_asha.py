"""Multi-objective early stopping (MO-ASHA, Pareto HyperBand) through the real controller."""

from __future__ import annotations

import math

import numpy as np
import pytest

from overtone import tune
from overtone._pareto import hypervolume
from overtone.schedulers import (
    ASHAScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
)

MAX_T = 27
REFERENCE = (1.2, 1.2)  # just past the true front, which spans [0, 1] in both


def objectives(config, t):
    """A two-objective family with a known front: ``q = 0`` gives ``latency = 1 - sqrt(loss)``
    for ``loss`` in [0, 1]; ``q > 0`` moves a trial away from it. Learning curves approach the
    final values at config-dependent rates, so early rungs rank trials imperfectly."""
    x, q = config["x"], config["q"]
    decay = config["gap"] * t ** (-config["rate"])
    return {
        "loss": x + 0.6 * q + decay,
        "latency": 1.0 - math.sqrt(x) + 0.6 * q + 0.5 * decay,
    }


def train(config):
    for t in range(1, MAX_T + 1):
        tune.report(objectives(config, t))


SPACE = {
    "x": tune.uniform(0.0, 1.0),
    "q": tune.uniform(0.0, 1.0),
    "gap": tune.uniform(0.1, 0.6),
    "rate": tune.uniform(0.5, 1.5),
}


def _fit(tmp_path, name, scheduler, num_samples=81, **kwargs):
    tuner = tune.Tuner(
        train,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric=["loss", "latency"],
            mode=["min", "min"],
            scheduler=scheduler,
            num_samples=num_samples,
            seed=7,
            **kwargs,
        ),
        run_config=tune.RunConfig(name=name, storage_path=str(tmp_path), verbose=0),
    )
    return tuner.fit()


def _found(grid):
    """The hypervolume of every result reported, and the iterations it cost."""
    points, iterations = [], 0
    for result in grid:
        frame = result.metrics_dataframe
        points += frame[["loss", "latency"]].to_numpy().tolist()
        iterations += int(frame["training_iteration"].max())
    return hypervolume(points, REFERENCE), iterations


def test_mo_asha_finds_the_front_with_a_third_of_the_iterations(tmp_path):
    exhaustive = _fit(tmp_path, "fifo", FIFOScheduler())
    asha = _fit(tmp_path, "asha", ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=3))
    hv_all, iters_all = _found(exhaustive)
    hv_asha, iters_asha = _found(asha)
    assert iters_all == 81 * MAX_T
    assert [r.config for r in asha] == [r.config for r in exhaustive]  # the same 81 configs
    ratio = hv_asha / hv_all
    print(f"MO-ASHA: hypervolume {ratio:.1%} of exhaustive with {iters_asha}/{iters_all} iters")
    assert ratio >= 0.90
    assert iters_asha <= iters_all / 3
    # The trials that ran to the end are the front-most of those cut early: ASHA kept them
    # by Pareto rank, not by one metric (a trial best in latency ran on too).
    finished = [r for r in asha if r.metrics["training_iteration"] == MAX_T]
    assert 1 < len(finished) < 81
    by_loss = min(asha, key=lambda r: r.metrics_dataframe["loss"].iloc[0])
    by_latency = min(asha, key=lambda r: r.metrics_dataframe["latency"].iloc[0])
    assert by_loss.metrics["training_iteration"] > 1
    assert by_latency.metrics["training_iteration"] > 1


def test_pareto_front_of_a_result_grid_and_its_analysis(tmp_path):
    grid = _fit(tmp_path, "front", FIFOScheduler(), num_samples=20)
    front = grid.get_pareto_front()
    points = np.array([[r.metrics["loss"], r.metrics["latency"]] for r in grid])
    on_front = {id(r) for r in front}
    for i, r in enumerate(grid):
        dominated = any(
            (points[j] <= points[i]).all() and (points[j] < points[i]).any()
            for j in range(len(points))
        )
        assert (id(r) in on_front) == (not dominated)
    analysis = tune.ExperimentAnalysis(grid.experiment_path)
    assert analysis.default_metric == ["loss", "latency"]
    assert [t.trial_id for t in analysis.pareto_front] == [r.metrics["trial_id"] for r in front]
    # Maximizing latency instead gives another front.
    other = grid.get_pareto_front(metric=["loss", "latency"], mode=["min", "max"])
    assert {r.metrics["trial_id"] for r in other} != {r.metrics["trial_id"] for r in front}
    with pytest.raises(ValueError, match=r"metric is the list \['loss', 'latency'\]"):
        _ = analysis.best_trial
    with pytest.raises(ValueError, match="several objectives"):
        grid.get_best_result()
    assert grid.get_best_result(metric="loss", mode="min").metrics["loss"] == points[:, 0].min()


def test_hyperband_ranks_by_pareto_front(tmp_path):
    def train_ckpt(config):
        import os
        import tempfile

        start = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with open(os.path.join(checkpoint.path, "t")) as f:
                start = int(f.read())
        for t in range(start + 1, 10):
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "t"), "w") as f:
                    f.write(str(t))
                tune.report(objectives(config, t), checkpoint=tune.Checkpoint.from_directory(d))

    grid = tune.Tuner(
        train_ckpt,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            metric=["loss", "latency"],
            mode=["min", "min"],
            scheduler=HyperBandScheduler(max_t=9, reduction_factor=3),
            num_samples=9,
            seed=3,
        ),
        run_config=tune.RunConfig(name="hb", storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert grid.num_errors == 0
    iterations = sorted(int(r.metrics["training_iteration"]) for r in grid)
    assert iterations[-1] == 9 and iterations[0] < 9
    # Whoever survived the first rung is not dominated by anyone cut there, at that rung.
    first = {r.metrics["trial_id"]: r.metrics_dataframe for r in grid}
    survived = [tid for tid, df in first.items() if df["training_iteration"].max() > 1]
    cut = [tid for tid, df in first.items() if df["training_iteration"].max() == 1]

    def at1(tid):
        row = first[tid][first[tid]["training_iteration"] == 1].iloc[0]
        return np.array([row["loss"], row["latency"]])

    for s in survived:
        for c in cut:
            assert not ((at1(c) <= at1(s)).all() and (at1(c) < at1(s)).any())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": ["a", "b"], "mode": ["min"]}, "metric has 2 entries and mode 1"),
        ({"metric": ["a", "b"], "mode": ["min", "best"]}, "each entry must be 'min' or 'max'"),
        ({"metric": "a", "mode": ["min", "max"]}, "mode is the list"),
        ({"metric": [], "mode": "min"}, "metric is an empty list"),
    ],
)
def test_tune_config_checks_metric_and_mode_lists(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tune.TuneConfig(**kwargs)


def test_a_single_objective_scheduler_refuses_a_metric_list(tmp_path):
    with pytest.raises(ValueError, match="MedianStoppingRule ranks trials by one metric"):
        _fit(tmp_path, "median", MedianStoppingRule(), num_samples=2)
    with pytest.raises(ValueError, match="tie_break is 'best'"):
        ASHAScheduler(tie_break="best")


def test_optuna_multi_objective_search_with_mo_asha(tmp_path):
    optuna = pytest.importorskip("optuna")
    from overtone.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(sampler=optuna.samplers.NSGAIISampler(seed=1, population_size=8))
    grid = _fit(
        tmp_path,
        "optuna",
        ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=3),
        num_samples=24,
        search_alg=searcher,
    )
    assert grid.num_errors == 0 and len(grid) == 24
    assert any(r.metrics["training_iteration"] < MAX_T for r in grid)
    study = searcher._study
    assert study is not None and len(study.directions) == 2
    completed = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(completed) == 24
    assert grid.get_pareto_front()
