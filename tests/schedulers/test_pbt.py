"""PBT: tracking a moving optimum, the policy log and its replay, explore, arguments."""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np
import pytest
from sched_sim import Simulator

from overtone import tune
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.schedulers import (
    Decision,
    FIFOScheduler,
    PopulationBasedTraining,
    PopulationBasedTrainingReplay,
    TrialRestart,
)
from overtone.schedulers._pbt_explore import explore

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
HORIZON = 60


def _gain(lr: float, iteration: int) -> float:
    """The best learning rate decays from 1e-1 to 1e-4 over the run (a schedule)."""
    best = -1.0 - 3.0 * iteration / HORIZON
    return math.exp(-((math.log10(lr) - best) ** 2) / (2 * 0.5**2))


def _step(config, state, iteration):
    state = state + _gain(config["lr"], iteration)
    return state, {"score": state}


def _population() -> list[dict]:
    return [{"lr": lr} for lr in LRS] + [{"lr": 3e-3}]


def _pbt(**kwargs) -> PopulationBasedTraining:
    return PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=4,
        hyperparam_mutations={"lr": LRS},
        **kwargs,
    )


def _sim(scheduler, root, configs=None) -> Simulator:
    return Simulator(
        scheduler,
        configs=configs or _population(),
        step_fn=_step,
        root=str(root),
        max_iter=HORIZON,
        concurrency=4,
        checkpoint_every=4,
    )


def _best(sim: Simulator) -> float:
    return max(t.last_result["score"] for t in sim.trials.values())


@pytest.mark.parametrize("synch", [False, True])
def test_pbt_beats_the_best_fixed_config_of_the_same_population(synch, tmp_path):
    fixed = _sim(FIFOScheduler(), tmp_path / "fifo").run()
    pbt = _sim(_pbt(synch=synch), tmp_path / "pbt").run()
    assert _best(pbt) > 1.1 * _best(fixed)
    assert any(d[2] == "RESTART" for d in pbt.decisions)


def test_every_exploit_is_in_the_policy_log(tmp_path):
    sim = _sim(_pbt(), tmp_path).run()
    restarts = [d for d in sim.decisions if d[2] == "RESTART"]
    rows = [json.loads(x) for x in open(tmp_path / "pbt_global.txt")]
    assert len(rows) == len(restarts) > 0
    for (trial_id, step, _, config, source, _), row in zip(restarts, rows):
        old_tag, new_tag, old_id, new_id, old_step, new_step, old_config, new_config = row
        assert (old_id, old_step) == (trial_id, step)
        assert json.dumps(new_config, sort_keys=True) == config
        assert source == os.path.join(f"sim_{new_id}", f"checkpoint_{new_step:06d}")
        assert old_config["lr"] in LRS and new_config["lr"] in LRS
        assert (old_tag, new_tag) == (str(int(old_id[1:])), str(int(new_id[1:])))
    # Each trial's own file ends with its last exploit, after the lineage it copied.
    for trial_id in {d[0] for d in restarts}:
        mine = [r for r in rows if r[2] == trial_id]
        lines = [json.loads(x) for x in open(tmp_path / f"pbt_policy_{trial_id}.txt")]
        assert lines[-1] == mine[-1]


def test_replay_reproduces_the_best_trial(tmp_path):
    sim = _sim(_pbt(), tmp_path / "pbt").run()
    best = max(sim.trials.values(), key=lambda t: t.last_result["score"])
    policy = tmp_path / "pbt" / f"pbt_policy_{best.trial_id}.txt"
    assert policy.exists(), "the best trial exploited at least once"
    replay = PopulationBasedTrainingReplay(str(policy))
    (tmp_path / "replay").mkdir()
    again = _sim(replay, tmp_path / "replay", configs=[replay.config]).run()
    (trial,) = again.trials.values()
    assert trial.last_result["score"] == pytest.approx(best.last_result["score"], rel=1e-12)
    assert trial.config == best.config


def test_replay_wants_the_policys_initial_config_and_one_trial(tmp_path):
    path = tmp_path / "pbt_policy_x.txt"
    path.write_text(json.dumps(["0", "1", "a", "b", 4, 4, {"lr": 1}, {"lr": 2}]) + "\n")
    replay = PopulationBasedTrainingReplay(str(path))
    assert replay.config == {"lr": 1}
    trial = FrozenTrial("a", "a", {"lr": 3}, TrialStatus.PENDING, {}, "", Resources())
    with pytest.raises(ValueError, match="param_space=replay.config"):
        replay.on_trial_add(trial)
    with pytest.raises(ValueError, match="no such file"):
        PopulationBasedTrainingReplay(str(tmp_path / "missing.txt"))


def test_replay_reads_ray_tunes_six_field_rows(tmp_path):
    path = tmp_path / "pbt_policy_ray.txt"
    rows = [["a", "b", 3, 2, {"lr": 1}, {"lr": 2}], ["a", "c", 6, 5, {"lr": 2}, {"lr": 3}]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    replay = PopulationBasedTrainingReplay(str(path))
    assert replay.config == {"lr": 1}
    trial = FrozenTrial("a", "a", {"lr": 1}, TrialStatus.RUNNING, {}, "", Resources())
    replay.on_trial_add(trial)
    decisions = [replay.on_trial_result(trial, {"training_iteration": i}) for i in range(1, 8)]
    restarts = {i + 1: d.config for i, d in enumerate(decisions) if isinstance(d, TrialRestart)}
    assert restarts == {2: {"lr": 2}, 5: {"lr": 3}}


def test_a_clone_whose_checkpoint_was_deleted_is_skipped(tmp_path):
    pbt = _pbt(metric="score", mode="max", seed=0)
    pbt.set_search_properties(None, None, experiment_path=str(tmp_path))
    good, bad = _frozen(0, path=str(tmp_path)), _frozen(1, path=str(tmp_path))
    pbt.on_trial_add(good)
    pbt.on_trial_add(bad)
    checkpoint = tmp_path / "t0" / "checkpoint_000004"
    checkpoint.mkdir(parents=True)
    assert pbt.on_trial_result(bad, {"training_iteration": 4, "score": 0.0}) == "CONTINUE"
    result = {"training_iteration": 4, "score": 1.0, "checkpoint_dir_name": checkpoint.name}
    assert pbt.on_trial_result(good, result) == Decision.CONTINUE
    plan = pbt._plan("t1", pbt._states["t1"])
    checkpoint.rmdir()
    with pytest.warns(UserWarning, match="deleted meanwhile"):
        assert pbt._apply("t1", pbt._states["t1"], plan) is None


class TestExplore:
    def test_lists_shift_to_a_neighbour_or_resample(self):
        rng = np.random.default_rng(0)
        seen = set()
        for _ in range(200):
            new, ops = explore({"b": 32}, {"b": [8, 16, 32, 64, 128]}, rng, 0.25, (1.2, 0.8))
            seen.add(new["b"])
            if ops["b"].startswith("shift"):
                assert new["b"] in (16, 64)
        assert {16, 64} <= seen and seen - {16, 64}  # resampling reaches the others

    def test_distributions_perturb_by_the_factors_and_ints_stay_ints(self):
        rng = np.random.default_rng(0)
        for _ in range(50):
            new, ops = explore(
                {"lr": 0.01, "n": 10},
                {"lr": tune.loguniform(1e-4, 1), "n": tune.randint(1, 100)},
                rng,
                0.0,
                (1.2, 0.8),
            )
            assert new["lr"] in (pytest.approx(0.012), pytest.approx(0.008))
            assert new["n"] in (12, 8) and isinstance(new["n"], int)

    def test_functions_nested_dicts_and_choice_domains(self):
        rng = np.random.default_rng(1)
        new, _ = explore(
            {"opt": {"momentum": 0.9}, "act": "relu"},
            {"opt": {"momentum": lambda: 0.5}, "act": tune.choice(["relu", "tanh"])},
            rng,
            1.0,
            (1.2, 0.8),
        )
        assert new["opt"]["momentum"] == 0.5 and new["act"] in ("relu", "tanh")

    def test_a_missing_value_is_sampled(self):
        new, ops = explore({}, {"lr": [0.1, 0.2]}, np.random.default_rng(0), 0.0, (2.0,))
        assert new["lr"] in (0.1, 0.2) and ops["lr"] == "resample"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hyperparam_mutations": {"lr": 0.1}}, r"hyperparam_mutations\['lr'\] is 0.1"),
        ({"hyperparam_mutations": {"lr": "fast"}}, r"hyperparam_mutations\['lr'\] is 'fast'"),
        ({"hyperparam_mutations": {"opt": {"b": 3}}}, r"hyperparam_mutations\['opt/b'\] is 3"),
        ({"hyperparam_mutations": {"lr": []}}, r"hyperparam_mutations\['lr'\] is an empty"),
        (
            {"hyperparam_mutations": {"lr": tune.grid_search([1, 2])}},
            r"hyperparam_mutations\['lr'\] is a grid_search",
        ),
        ({"hyperparam_mutations": {}}, "needs at least one of them"),
        ({"quantile_fraction": 0.7}, "quantile_fraction is 0.7, but must be between 0 and 0.5"),
        ({"perturbation_interval": 0}, "perturbation_interval is 0, but must be > 0"),
        ({"resample_probability": 2}, "resample_probability is 2"),
        ({"perturbation_factors": ()}, "perturbation_factors is ()"),
        ({"mode": "maximize"}, "mode is 'maximize'"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs, message):
    kwargs = {"hyperparam_mutations": {"lr": [1, 2]}, **kwargs}
    with pytest.raises(ValueError, match=message):
        PopulationBasedTraining(**kwargs)


def _frozen(i: int, config=None, path="/nonexistent") -> FrozenTrial:
    return FrozenTrial(
        f"t{i}",
        f"t{i}",
        config or {"lr": 1},
        TrialStatus.RUNNING,
        {},
        f"{path}/t{i}",
        Resources(),
    )


def test_a_result_without_time_attr_is_an_error_unless_not_required():
    pbt = _pbt(metric="score", mode="max")
    pbt.on_trial_add(_frozen(0))
    with pytest.raises(ValueError, match="'training_iteration'"):
        pbt.on_trial_result(_frozen(0), {"score": 1.0})
    lax = _pbt(metric="score", mode="max", require_attrs=False)
    lax.on_trial_add(_frozen(0))
    with pytest.warns(UserWarning, match="'training_iteration'"):
        assert lax.on_trial_result(_frozen(0), {"score": 1.0}) == Decision.CONTINUE


def test_no_exploit_without_a_checkpoint_to_clone(tmp_path):
    pbt = _pbt(metric="score", mode="max", seed=0)
    pbt.set_search_properties(None, None, experiment_path=str(tmp_path))
    trials = [_frozen(i, path=str(tmp_path)) for i in range(4)]
    for t in trials:
        pbt.on_trial_add(t)
    with pytest.warns(UserWarning, match="has no checkpoint"):
        for i, t in enumerate(trials):
            decision = pbt.on_trial_result(t, {"training_iteration": 4, "score": float(-i)})
            assert not isinstance(decision, TrialRestart)
    assert not (tmp_path / "pbt_global.txt").exists()


# -- through the real controller -------------------------------------------------------
def pbt_train(config):
    state, start = 0.0, 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "state.json")) as f:
            state, start = json.load(f)
    for it in range(start + 1, 13):
        state += _gain(config["lr"], it * 5)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump([state, it], f)
            tune.report({"score": state}, checkpoint=tune.Checkpoint.from_directory(d))


def test_pbt_exploits_through_the_controller(tmp_path):
    # synch: these trials are so fast that, run freely, one could end before the other
    # starts; in lockstep every perturbation sees the whole population.
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=2,
        hyperparam_mutations={"lr": LRS},
        resample_probability=0.5,
        synch=True,
    )
    grid = tune.Tuner(
        pbt_train,
        param_space={"lr": tune.grid_search([1e-4, 1e-3, 1e-2, 1e-1])},
        tune_config=tune.TuneConfig(scheduler=scheduler, metric="score", mode="max", seed=0),
        run_config=tune.RunConfig(
            name="pbt",
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        ),
    ).fit()
    assert grid.num_errors == 0 and grid.num_terminated == 4
    assert all(r.metrics["training_iteration"] == 12 for r in grid)
    rows = [json.loads(x) for x in open(tmp_path / "pbt" / "pbt_global.txt")]
    assert rows, "no exploit happened"
    for row in rows:
        assert (tmp_path / "pbt" / f"pbt_policy_{row[2]}.txt").exists()
    exploited = {row[2] for row in rows}
    for r in grid:
        result_rows = [json.loads(x) for x in open(os.path.join(r.path, "result.json"))]
        assert [x["training_iteration"] for x in result_rows] == list(range(1, 13))
        # After its last exploit (one at the last step changes nothing: the trial is over),
        # it ran with the new config from the cloned checkpoint's step on.
        mine = [row for row in rows if row[2] == r.metrics["trial_id"] and row[5] < 12]
        if mine:
            after = [x["config"] for x in result_rows if x["training_iteration"] > mine[-1][5]]
            assert after and all(c == mine[-1][7] for c in after)
    assert exploited


def test_synch_exploits_for_paused_trials_wait_for_them(tmp_path):
    pbt = _pbt(metric="score", mode="max", synch=True, seed=0)
    pbt.set_search_properties(None, None, experiment_path=str(tmp_path))
    trials = [_frozen(i, path=str(tmp_path)) for i in range(4)]
    for t in trials:
        pbt.on_trial_add(t)
    decisions = []
    for i, t in enumerate(trials):
        name = "checkpoint_000004"
        (tmp_path / t.trial_id / name).mkdir(parents=True)
        result = {"training_iteration": 4, "score": float(i), "checkpoint_dir_name": name}
        decisions.append(pbt.on_trial_result(t, result))
    # The first three wait; the last one completes the round and is the best: it goes on.
    assert decisions == [Decision.PAUSE] * 3 + [Decision.CONTINUE]
    restart = pbt.pending_restart(trials[0])  # the worst: it clones the best
    assert restart == TrialRestart(
        config=restart.config, checkpoint=str(tmp_path / "t3" / "checkpoint_000004")
    )
    assert pbt.pending_restart(trials[0]) is None and pbt.pending_restart(trials[1]) is None
    pbt.flush_logs()
    assert len((tmp_path / "pbt_global.txt").read_text().splitlines()) == 1
