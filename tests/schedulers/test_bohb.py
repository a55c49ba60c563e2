"""BOHB: TuneBOHB's density model per budget, with HyperBandForBOHB."""

from __future__ import annotations

import json
import os
import pickle
import sys

import numpy as np
import pytest

from overtone import tune
from overtone.schedulers import HyperBandForBOHB

pytest.importorskip("statsmodels")

from overtone.tune.search.bohb import TuneBOHB  # noqa: E402

SPACE = {
    "x": tune.uniform(0, 1),
    "lr": tune.loguniform(1e-4, 1e-1),
    "layers": tune.randint(1, 5),
    "act": tune.choice(["relu", "tanh", "gelu"]),
    "width": tune.quniform(16, 128, 16),
}


def _searcher(**kwargs) -> TuneBOHB:
    searcher = TuneBOHB(metric="loss", mode="min", seed=0, **kwargs)
    searcher.set_search_properties(None, None, SPACE)
    return searcher


def _valid(config) -> bool:
    return all(SPACE[k].is_valid(v) for k, v in config.items())


def test_random_suggestions_before_a_model_are_in_the_space():
    searcher = _searcher()
    configs = [searcher.suggest(f"t{i}") for i in range(20)]
    assert all(_valid(c) for c in configs)
    assert len({c["act"] for c in configs}) == 3


def _loss(config) -> float:
    return (config["x"] - 0.3) ** 2 + 0.1 * (config["act"] != "tanh")


def test_the_model_of_the_largest_budget_with_enough_data_steers_suggestions():
    searcher = _searcher(bohb_config={"random_fraction": 0.0, "num_samples": 64})
    for i in range(40):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_result(f"t{i}", {"loss": _loss(config), "hyperband_info": {"budget": 9}})
        searcher.on_trial_complete(f"t{i}", {"loss": _loss(config)})
    # Budget 1 has less data than needed: the budget-9 model is used.
    assert sorted(searcher._observations) == [9.0]
    late = [searcher.suggest(f"n{i}") for i in range(20)]
    assert all(_valid(c) for c in late)
    assert np.median([abs(c["x"] - 0.3) for c in late]) < 0.1
    assert sum(c["act"] == "tanh" for c in late) >= 12


def test_state_round_trips_and_suggests_the_same():
    searcher = _searcher(bohb_config={"random_fraction": 0.0})
    for i in range(15):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_result(f"t{i}", {"loss": _loss(config), "hyperband_info": {"budget": 3}})
    copy = TuneBOHB()
    copy.set_state(pickle.loads(pickle.dumps(searcher.get_state())))
    assert [copy.suggest(f"a{i}") for i in range(3)] == [
        searcher.suggest(f"a{i}") for i in range(3)
    ]


def test_max_concurrent_holds_suggestions_back():
    searcher = _searcher(max_concurrent=2)
    assert searcher.suggest("a") is not None and searcher.suggest("b") is not None
    assert searcher.suggest("c") is None
    searcher.on_trial_complete("a", {"loss": 1.0})
    assert searcher.suggest("c") is not None


def test_points_to_evaluate_come_first():
    searcher = _searcher(points_to_evaluate=[{"x": 0.25, "act": "gelu"}])
    first = searcher.suggest("t0")
    assert first["x"] == 0.25 and first["act"] == "gelu" and _valid(first)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bohb_config": {"top_n": 10}}, "bohb_config has 'top_n'"),
        ({"bohb_config": {"random_fraction": 2}}, r"bohb_config\['random_fraction'\] is 2"),
        ({"max_concurrent": -1}, "max_concurrent is -1"),
        ({"mode": "maximize"}, "'maximize'"),
        ({"space": {"w": tune.randn(0, 1)}}, "'w' is randn.*BOHB cannot express"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TuneBOHB(**kwargs)


def test_without_statsmodels_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels", None)
    monkeypatch.delitem(sys.modules, "statsmodels.nonparametric.kernel_density", raising=False)
    monkeypatch.delitem(sys.modules, "statsmodels.nonparametric", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'overtone\[bohb\]'"):
        TuneBOHB()


class Quadratic(tune.Trainable):
    def setup(self, config):
        self.n = 0

    def step(self):
        self.n += 1
        return {"loss": (self.config["x"] - 0.3) ** 2 + 1.0 / self.n}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n"), "w") as f:
            f.write(str(self.n))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n")) as f:
            self.n = int(f.read())


def test_bohb_through_the_controller(tmp_path):
    searcher = TuneBOHB(bohb_config={"min_points_in_model": 2})
    grid = tune.Tuner(
        Quadratic,
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(
            scheduler=HyperBandForBOHB(max_t=9, reduction_factor=3),
            search_alg=searcher,
            metric="loss",
            mode="min",
            num_samples=9,
            seed=0,
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        ),
    ).fit()
    assert grid.num_errors == 0 and grid.num_terminated == 9
    budgets = set()
    for r in grid:
        for line in open(os.path.join(r.path, "result.json")):
            budgets.add(json.loads(line)["hyperband_info"].get("budget"))
    assert budgets == {None, 1, 3, 9}
    assert max(r.metrics["training_iteration"] for r in grid) == 9
