"""The classic generation: tune.run, tune.report(**kw), ExperimentAnalysis."""

from __future__ import annotations

import json
import os

import pytest

from overtone import tune


def objective(step, alpha, beta):
    return (0.1 + alpha * step / 100) ** (-1) + beta * 0.1


def training_function(config):
    alpha, beta = config["alpha"], config["beta"]
    for step in range(10):
        tune.report(mean_loss=objective(step, alpha, beta))


def test_quick_start_runs_and_finds_the_best_config(tmp_path, executor):
    analysis = tune.run(
        training_function,
        config={"alpha": tune.grid_search([0.001, 0.01, 0.1]), "beta": tune.choice([1, 2, 3])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert len(analysis.trials) == 3
    assert all(str(t.status) == "TERMINATED" for t in analysis.trials)
    best = analysis.get_best_config(metric="mean_loss", mode="min")
    # The loss falls fastest with the largest alpha; beta adds 0.1 per unit.
    expected = min(
        (objective(9, t.config["alpha"], t.config["beta"]), t.config["alpha"])
        for t in analysis.trials
    )
    assert best["alpha"] == expected[1] == 0.1
    df = analysis.results_df
    assert len(df) == 3
    assert {"mean_loss", "training_iteration", "config/alpha", "config/beta"} <= set(df.columns)
    assert set(df["training_iteration"]) == {10}
    assert sorted(df["config/alpha"]) == [0.001, 0.01, 0.1]


def test_results_on_disk_follow_the_layout(tmp_path, executor):
    tune.run(
        training_function,
        name="exp",
        config={"alpha": 0.1, "beta": 1},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    exp = tmp_path / "exp"
    state = json.loads((exp / "experiment_state.json").read_text())
    assert state["format_version"] == 1
    (trial,) = state["trials"]
    assert trial["status"] == "TERMINATED"
    trial_dir = exp / trial["dirname"]
    assert json.loads((trial_dir / "params.json").read_text()) == {"alpha": 0.1, "beta": 1}
    lines = (trial_dir / "result.json").read_text().splitlines()
    assert [json.loads(line)["training_iteration"] for line in lines] == list(range(1, 11))
    first = json.loads(lines[0])
    for field in (
        "training_iteration",
        "time_this_iter_s",
        "time_total_s",
        "timestamp",
        "date",
        "trial_id",
        "hostname",
        "pid",
        "done",
        "config",
    ):
        assert field in first, field
    assert first["config"] == {"alpha": 0.1, "beta": 1}
    assert first["pid"] != os.getpid()  # user code never runs in the driver
    csv_lines = (trial_dir / "progress.csv").read_text().splitlines()
    assert len(csv_lines) == 11 and "mean_loss" in csv_lines[0] and "config" not in csv_lines[0]


def test_analysis_loads_from_the_directory(tmp_path, executor):
    tune.run(
        training_function,
        name="exp",
        config={"alpha": tune.grid_search([0.01, 0.1]), "beta": 1},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    analysis = tune.ExperimentAnalysis(str(tmp_path / "exp"))
    assert analysis.get_best_config(metric="mean_loss", mode="min")["alpha"] == 0.1
    assert len(analysis.trial_dataframes) == 2
    assert all(len(df) == 10 for df in analysis.trial_dataframes.values())


def test_unknown_metric_lists_the_metrics_that_exist(tmp_path, executor):
    analysis = tune.run(
        training_function,
        config={"alpha": 0.1, "beta": 1},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    with pytest.raises(KeyError, match="mean_loss") as info:
        analysis.get_best_config(metric="accuracy", mode="max")
    assert "accuracy" in str(info.value)


def test_best_properties_use_run_metric_and_mode(tmp_path, executor):
    analysis = tune.run(
        training_function,
        config={"alpha": tune.grid_search([0.001, 0.1]), "beta": 1},
        metric="mean_loss",
        mode="min",
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    assert analysis.best_config["alpha"] == 0.1
    assert analysis.best_result["training_iteration"] == 10
    df = analysis.dataframe(metric="mean_loss", mode="min")
    assert len(df) == 2


def returns_a_dict(config):
    tune.report(score=1)
    return {"score": config["x"] * 10}


def test_returned_dict_is_the_last_result(tmp_path, executor):
    analysis = tune.run(
        returns_a_dict, config={"x": 4}, storage_path=str(tmp_path), verbose=0, executor=executor
    )
    (trial,) = analysis.trials
    assert trial.last_result["score"] == 40
    assert trial.last_result["training_iteration"] == 2
    assert trial.last_result["done"] is True


def current_api(config):
    for i in range(3):
        tune.report({"loss": config["x"] - i}, checkpoint=None)


def test_dict_form_of_report(tmp_path, executor):
    analysis = tune.run(
        current_api, config={"x": 5}, storage_path=str(tmp_path), verbose=0, executor=executor
    )
    assert analysis.trials[0].last_result["loss"] == 3


def test_report_outside_a_trial_is_a_clear_error():
    with pytest.raises(RuntimeError, match="outside a trial"):
        tune.report(loss=1)


def test_num_samples_repeats_the_grid(tmp_path, executor):
    analysis = tune.run(
        current_api,
        config={"x": tune.grid_search([1, 2]), "y": tune.uniform(0, 1)},
        num_samples=3,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    xs = sorted(t.config["x"] for t in analysis.trials)
    assert xs == [1, 1, 1, 2, 2, 2]
    assert len({t.config["y"] for t in analysis.trials}) == 6


def test_the_same_seed_gives_the_same_configs(tmp_path, executor):
    def configs(seed):
        analysis = tune.run(
            current_api,
            config={"x": tune.uniform(0, 1), "n": tune.randint(0, 1000)},
            num_samples=4,
            seed=seed,
            storage_path=str(tmp_path),
            verbose=0,
            executor=tune.LocalExecutor(num_cpus=2, num_gpus=0),
        )
        return sorted((t.config["x"], t.config["n"]) for t in analysis.trials)

    assert configs(7) == configs(7)
    assert configs(7) != configs(8)


def test_bad_space_fails_before_any_trial(tmp_path, executor):
    with pytest.raises(ValueError, match="lower"):
        tune.run(current_api, config={"x": tune.loguniform(0, 1)}, storage_path=str(tmp_path))
    cyclic = {
        "a": tune.sample_from(lambda spec: spec.config.b),
        "b": tune.sample_from(lambda spec: spec.config.a),
    }
    with pytest.raises(ValueError, match="'a'"):
        tune.run(
            current_api,
            config=cyclic,
            name="cyc",
            storage_path=str(tmp_path),
            verbose=0,
            executor=executor,
        )
    assert not any(p.is_dir() for p in (tmp_path / "cyc").glob("*"))  # no trial started


def test_sample_from_sees_the_resolved_config(tmp_path, executor):
    analysis = tune.run(
        current_api,
        config={
            "x": tune.uniform(1, 2),
            "double": tune.sample_from(lambda spec: spec.config.x * 2),
        },
        num_samples=2,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
    )
    for t in analysis.trials:
        assert t.config["double"] == pytest.approx(2 * t.config["x"])
