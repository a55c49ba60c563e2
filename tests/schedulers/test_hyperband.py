"""HyperBand: the paper's bracket table, pauses and resumes, partial brackets, the real loop."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sched_sim import Simulator

from overtone import tune
from overtone.schedulers import HyperBandForBOHB, HyperBandScheduler

# Li et al. (2018), Table 1: R = 81, eta = 3. For each bracket s, (n_i, r_i) per rung.
PAPER = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}


def _curve(config, state, iteration):
    return state, {"loss": config["q"] + 1.0 / iteration}


def test_bracket_sizes_are_the_papers():
    hb = HyperBandScheduler(max_t=81, reduction_factor=3)
    assert [hb.bracket_size(s) for s in (4, 3, 2, 1, 0)] == [81, 34, 15, 8, 5]


def test_promotions_follow_the_paper_table(tmp_path):
    total = sum(n for rungs in PAPER.values() for n, _ in rungs[:1])
    assert total == 143
    rng = np.random.default_rng(0)
    configs = [{"q": float(q)} for q in rng.permutation(total)]
    sim = Simulator(
        HyperBandScheduler(max_t=81, reduction_factor=3),
        configs=configs,
        step_fn=_curve,
        root=str(tmp_path),
        max_iter=81,
        concurrency=10,
        metric="loss",
        mode="min",
    ).run()
    start = 0
    for s in (4, 3, 2, 1, 0):  # the paper's order: the most aggressive bracket first
        members = {f"t{i:05d}" for i in range(start, start + PAPER[s][0][0])}
        start += len(members)
        survivors = members
        for n_i, r_i in PAPER[s]:
            reached = members & sim.reached(r_i)
            assert len(reached) == n_i, (s, r_i)
            # Those who reached r_i are the best n_i of those who reached the rung before.
            best = sorted(survivors, key=lambda t: sim.trials[t].config["q"])[:n_i]
            assert reached == set(best), (s, r_i)
            survivors = reached
        for trial_id in members:  # a loser runs at most one iteration past its rung
            trial = sim.trials[trial_id]
            rungs = [r for _, r in PAPER[s]]
            assert any(trial.iteration in (r, r + 1) for r in rungs), trial.iteration


def test_trials_pause_at_rungs_and_resume_from_their_checkpoints(tmp_path):
    sim = Simulator(
        HyperBandScheduler(max_t=9, reduction_factor=3),
        configs=[{"q": float(q)} for q in (5, 3, 8, 1, 7, 0, 6, 2, 4)],
        step_fn=lambda c, s, it: (s + 1, {"loss": c["q"] + 1.0 / it, "n": s + 1}),
        root=str(tmp_path),
        max_iter=9,
        concurrency=3,
        metric="loss",
        mode="min",
    ).run()
    pauses = [d for d in sim.decisions if d[2] == "PAUSE"]
    assert {d[1] for d in pauses} == {1, 3}
    winner = sim.trials["t00005"]  # q = 0
    assert winner.iteration == 9 and winner.state == 9  # resumed, not restarted
    assert len(winner.history) >= 2 and winner.history[1][0] in (1, 3)


def test_a_bracket_short_of_trials_closes_with_those_it_has(tmp_path):
    # Bracket s=2 of (R=9, eta=3) takes 9 trials, s=1 takes 5: 11 trials leave s=1 short.
    sim = Simulator(
        HyperBandScheduler(max_t=9, reduction_factor=3),
        configs=[{"q": float(q)} for q in range(11)],
        step_fn=_curve,
        root=str(tmp_path),
        max_iter=9,
        concurrency=2,
        metric="loss",
        mode="min",
    ).run()
    assert all(t.status == "TERMINATED" for t in sim.trials.values())
    # s=1 starts at r=3 with trials 9 and 10; floor(2 / 3) -> at least 1 goes on to 9.
    assert sim.trials["t00009"].iteration == 9
    assert sim.trials["t00010"].iteration in (3, 4)


def test_bohb_marks_budgets_in_results(tmp_path):
    sim = Simulator(
        HyperBandForBOHB(max_t=9, reduction_factor=3),
        configs=[{"q": float(q)} for q in range(9)],
        step_fn=_curve,
        root=str(tmp_path),
        max_iter=9,
        concurrency=3,
        metric="loss",
        mode="min",
    ).run()
    budgets = sorted(t.last_result["hyperband_info"].get("budget", 0) for t in sim.trials.values())
    assert budgets[-1] == 9
    assert set(budgets) <= {0, 1, 3, 9}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction_factor": 1}, "reduction_factor is 1, but must be > 1"),
        ({"max_t": 0}, "max_t is 0, but must be > 0"),
        ({"mode": "maximize"}, "'maximize'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HyperBandScheduler(**kwargs)


class Counter(tune.Trainable):
    def setup(self, config):
        self.n = 0

    def step(self):
        self.n += 1
        return {"loss": self.config["q"] + 1.0 / self.n, "n": self.n}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n"), "w") as f:
            f.write(str(self.n))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n")) as f:
            self.n = int(f.read())


def test_hyperband_pauses_and_resumes_through_the_controller(tmp_path):
    grid = tune.Tuner(
        Counter,
        param_space={"q": tune.grid_search([5, 3, 8, 1, 7, 0, 6, 2, 4])},
        tune_config=tune.TuneConfig(
            scheduler=HyperBandScheduler(max_t=9, reduction_factor=3),
            metric="loss",
            mode="min",
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        ),
    ).fit()
    assert grid.num_errors == 0 and grid.num_terminated == 9
    by_q = {r.config["q"]: r for r in grid}
    assert by_q[0].metrics["training_iteration"] == 9
    rows = [json.loads(x) for x in open(os.path.join(by_q[0].path, "result.json"))]
    assert [r["training_iteration"] for r in rows] == list(range(1, 10))
    assert [r["n"] for r in rows] == list(range(1, 10))  # restored, not restarted
    assert any(r["iterations_since_restore"] == 1 for r in rows[1:])  # it was resumed
    reached_3 = [q for q, r in by_q.items() if r.metrics["training_iteration"] >= 3]
    assert sorted(reached_3) == [0, 1, 2]  # the best third of the first rung
    assert all(r.metrics["training_iteration"] <= 2 for q, r in by_q.items() if q > 2)
