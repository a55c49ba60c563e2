from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import overtone.analysis as analysis_pkg
from overtone._errors import MetricNotFoundError, TuneError
from overtone.analysis import ExperimentAnalysis, load_experiment_state
from overtone.checkpoint import Checkpoint

MakeExperiment = Callable[..., Path]

REPORTED = [
    "done",
    "eval/acc",
    "eval/f1",
    "mean_loss",
    "only_nan",
    "score",
    "time_total_s",
    "timestamp",
    "training_iteration",
    "trial_id",
]


def trial_path(experiment: str, trial_id: str) -> str:
    (match,) = [d for d in os.listdir(experiment) if d.startswith(f"train_{trial_id}_")]
    return os.path.join(experiment, match)


def test_public_names() -> None:
    assert sorted(analysis_pkg.__all__) == [
        "ExperimentAnalysis",
        "Result",
        "ResultGrid",
        "TrialRecord",
        "hypervolume",
        "load_experiment_state",
    ]


# -- loading -------------------------------------------------------------------------------


def test_load_experiment_state(experiment: str) -> None:
    state = load_experiment_state(experiment)
    assert state["format_version"] == 1
    assert [t["trial_id"] for t in state["trials"]] == ["a", "b", "c", "d", "e"]
    same = load_experiment_state(os.path.join(experiment, "experiment_state.json"))
    assert same == state


def test_load_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(TuneError, match=rf"{missing} is not an experiment directory"):
        load_experiment_state(missing)
    with pytest.raises(ValueError, match="has no experiment_state.json"):
        ExperimentAnalysis(tmp_path)


def test_load_corrupted_json(experiment: str) -> None:
    state_file = os.path.join(experiment, "experiment_state.json")
    with open(state_file, "w") as f:
        f.write('{"format_version": 1, "trials": [')
    with pytest.raises(TuneError) as info:
        ExperimentAnalysis(experiment)
    assert str(info.value).startswith(f"{state_file} is corrupted: Expecting value")
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, json.JSONDecodeError)


def test_load_not_an_object(experiment: str) -> None:
    with open(os.path.join(experiment, "experiment_state.json"), "w") as f:
        f.write("[1, 2]")
    with pytest.raises(TuneError, match="is corrupted: it holds a list, not an object"):
        load_experiment_state(experiment)


@pytest.mark.parametrize("version", [2, None, "1"])
def test_load_unknown_format_version(make_experiment: MakeExperiment, version: Any) -> None:
    path = make_experiment(format_version=version)
    with pytest.raises(TuneError) as info:
        load_experiment_state(path)
    message = str(info.value)
    assert f"has format_version {version!r}" in message
    assert "reads only format_version 1" in message


def test_load_invalid_trial_entry(make_experiment: MakeExperiment) -> None:
    path = make_experiment()
    state_file = path / "experiment_state.json"
    state = json.loads(state_file.read_text())
    state["trials"][1]["status"] = "DONE"
    state_file.write_text(json.dumps(state))
    with pytest.raises(TuneError, match=r"trials\[1\] has status 'DONE', but it must be one of"):
        load_experiment_state(path)
    del state["trials"][1]["dirname"]
    state_file.write_text(json.dumps(state))
    with pytest.raises(TuneError, match=r"trials\[1\] has no 'dirname'"):
        load_experiment_state(path)


def test_accepts_state_file_and_home(
    experiment: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    by_file = ExperimentAnalysis(os.path.join(experiment, "experiment_state.json"))
    assert by_file.experiment_path == experiment
    monkeypatch.setenv("HOME", os.fspath(tmp_path))
    by_home = ExperimentAnalysis(os.path.join("~", os.path.basename(experiment)))
    assert by_home.experiment_path == experiment
    assert len(by_home.trials) == 5


def test_bad_default_mode(experiment: str) -> None:
    with pytest.raises(ValueError, match="mode is 'best', but must be 'min' or 'max'"):
        ExperimentAnalysis(experiment, default_mode="best")


# -- tables --------------------------------------------------------------------------------


def test_defaults_come_from_the_state_then_the_constructor(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    assert (analysis.default_metric, analysis.default_mode) == ("mean_loss", "min")
    other = ExperimentAnalysis(experiment, default_metric="score", default_mode="max")
    assert (other.default_metric, other.default_mode) == ("score", "max")


def test_results(experiment: str) -> None:
    results = ExperimentAnalysis(experiment).results
    assert list(results) == ["a", "b", "c", "d", "e"]
    assert results["b"]["mean_loss"] == 1.1
    assert results["b"]["config"] == {"alpha": 0.01, "beta": 3, "opt": {"name": "sgd"}}
    assert results["e"] == {"trial_id": "e", "config": {"alpha": 2.0, "beta": 5}}


def test_results_df(experiment: str) -> None:
    df = ExperimentAnalysis(experiment).results_df
    assert df.index.name == "trial_id"
    assert list(df.index) == ["a", "b", "c", "d", "e"]
    assert df.loc["a", "mean_loss"] == 2.0
    assert df.loc["b", "mean_loss"] == 1.1
    assert df.loc["a", "eval/f1"] == 0.4
    assert math.isnan(df.loc["d", "mean_loss"])
    assert df.loc["b", "config/opt/name"] == "sgd"
    assert list(df["config/alpha"]) == [0.001, 0.01, 0.1, 1.0, 2.0]
    assert "config" not in df.columns


def test_trial_dataframes(experiment: str) -> None:
    frames = ExperimentAnalysis(experiment).trial_dataframes
    assert list(frames) == [trial_path(experiment, t) for t in "abcde"]
    a = frames[trial_path(experiment, "a")]
    assert list(a["mean_loss"]) == [3.0, 1.0, 2.0]
    assert list(a["eval/f1"]) == [0.2, 0.6, 0.4]
    assert list(a["training_iteration"]) == [1, 2, 3]
    assert list(frames[trial_path(experiment, "c")]["mean_loss"]) == [4.0]
    assert frames[trial_path(experiment, "e")].empty


def test_trial_dataframes_are_cached(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    first = analysis.trial_dataframes[trial_path(experiment, "a")]
    assert analysis.trial_dataframes[trial_path(experiment, "a")] is first


def test_dataframe_last_rows(experiment: str) -> None:
    df = ExperimentAnalysis(experiment).dataframe()
    assert len(df) == 4  # the trial that never reported has no row
    assert list(df["trial_id"]) == ["a", "b", "c", "d"]
    assert list(df["training_iteration"]) == [3, 6, 1, 2]
    assert list(df["logdir"]) == [trial_path(experiment, t) for t in "abcd"]
    assert list(df["config/beta"]) == [2, 3, 1, 0]
    assert df.loc[1, "config/opt/name"] == "sgd"
    # A metric without a mode still gives the last rows, as in Ray Tune.
    assert list(ExperimentAnalysis(experiment).dataframe("mean_loss")["training_iteration"]) == [
        3,
        6,
        1,
        2,
    ]


def test_dataframe_best_rows(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    best_min = analysis.dataframe("mean_loss", "min")
    assert list(best_min["mean_loss"]) == [1.0, 1.1, 4.0, 0.05]
    assert list(best_min["training_iteration"]) == [2, 5, 1, 1]
    best_max = analysis.dataframe("eval/f1", "max")
    assert best_max.loc[0, "eval/f1"] == 0.6
    assert list(best_max["training_iteration"]) == [2, 6, 1, 2]  # others: last rows


def test_dataframe_bad_arguments(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    with pytest.raises(ValueError, match="mode is 'up', but must be 'min' or 'max'"):
        analysis.dataframe("mean_loss", "up")
    with pytest.raises(ValueError, match="no metric was given"):
        analysis.dataframe(mode="min")


def test_get_all_configs(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    configs = analysis.get_all_configs()
    assert configs[trial_path(experiment, "b")] == {
        "alpha": 0.01,
        "beta": 3,
        "opt": {"name": "sgd"},
    }
    prefixed = analysis.get_all_configs(prefix=True)
    assert prefixed[trial_path(experiment, "b")] == {
        "config/alpha": 0.01,
        "config/beta": 3,
        "config/opt/name": "sgd",
    }
    assert len(prefixed) == 5


def test_stats(experiment: str) -> None:
    assert ExperimentAnalysis(experiment).stats() == {
        "name": "exp0",
        "start_time": 1700000000.0,
        "overtone_version": "0.1.0",
        "num_trials": 5,
        "status_counts": {"ERROR": 1, "PENDING": 1, "TERMINATED": 3},
    }


# -- best trial ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "mode", "expected"),
    [
        ("last", "min", "b"),
        ("avg", "min", "a"),
        ("last-5-avg", "min", "b"),
        ("last-10-avg", "min", "a"),
        ("all", "min", "a"),
        ("last", "max", "c"),
        ("all", "max", "b"),
    ],
)
def test_get_best_trial_scopes(experiment: str, scope: str, mode: str, expected: str) -> None:
    best = ExperimentAnalysis(experiment).get_best_trial("mean_loss", mode, scope=scope)
    assert best is not None and best.trial_id == expected


def test_get_best_trial_defaults(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    assert analysis.get_best_trial().trial_id == "b"  # type: ignore[union-attr]
    assert analysis.get_best_trial(mode="max").trial_id == "c"  # type: ignore[union-attr]


def test_get_best_trial_nested_metric(experiment: str) -> None:
    best = ExperimentAnalysis(experiment).get_best_trial("eval/f1", "min")
    assert best is not None and best.trial_id == "a"


def test_get_best_trial_nan_and_inf(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    # d's score is inf: skipped unless asked not to.
    assert analysis.get_best_trial("score", "max").trial_id == "c"  # type: ignore[union-attr]
    unfiltered = analysis.get_best_trial("score", "max", filter_nan_and_inf=False)
    assert unfiltered is not None and unfiltered.trial_id == "d"
    # A NaN never wins, filtered or not.
    unfiltered = analysis.get_best_trial("mean_loss", "min", filter_nan_and_inf=False)
    assert unfiltered is not None and unfiltered.trial_id == "b"


def test_get_best_trial_all_nan_is_none(experiment: str) -> None:
    assert ExperimentAnalysis(experiment).get_best_trial("only_nan", "min") is None


def test_get_best_trial_unknown_metric(experiment: str) -> None:
    with pytest.raises(MetricNotFoundError) as info:
        ExperimentAnalysis(experiment).get_best_trial("accuracy", "max")
    assert str(info.value) == (
        f"metric 'accuracy' was not reported by any trial; the reported metrics are: {REPORTED}"
    )
    assert isinstance(info.value, KeyError)


def test_metric_only_in_earlier_results_is_found(make_experiment: MakeExperiment) -> None:
    trials = [
        {
            "trial_id": "x",
            "config": {"v": 1},
            "status": "TERMINATED",
            "results": [{"warmup_loss": 0.5}, {"loss": 1.0}],
        },
        {
            "trial_id": "y",
            "config": {"v": 2},
            "status": "TERMINATED",
            "results": [{"warmup_loss": 0.2}, {"loss": 2.0}],
        },
    ]
    analysis = ExperimentAnalysis(make_experiment(trials))
    best = analysis.get_best_trial("warmup_loss", "min")
    assert best is not None and best.trial_id == "y"


def test_get_best_trial_bad_arguments(make_experiment: MakeExperiment) -> None:
    analysis = ExperimentAnalysis(make_experiment(metric=None, mode=None))
    with pytest.raises(ValueError, match="No `metric` has been passed"):
        analysis.get_best_trial(mode="min")
    with pytest.raises(ValueError, match="No `mode` has been passed"):
        analysis.get_best_trial("mean_loss")
    with pytest.raises(ValueError, match="mode is 'low', but must be 'min' or 'max'"):
        analysis.get_best_trial("mean_loss", "low")
    with pytest.raises(ValueError, match=r"scope is 'first', but must be one of \['last'"):
        analysis.get_best_trial("mean_loss", "min", scope="first")


def test_single_trial_without_metric_is_best(make_experiment: MakeExperiment) -> None:
    one = [{"trial_id": "x", "config": {}, "status": "TERMINATED", "results": [{"v": 1}]}]
    analysis = ExperimentAnalysis(make_experiment(one, metric=None, mode=None))
    assert analysis.get_best_trial().trial_id == "x"  # type: ignore[union-attr]


def test_get_best_config_and_logdir(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    assert analysis.get_best_config("mean_loss", "min", "all") == {"alpha": 0.001, "beta": 2}
    assert analysis.get_best_logdir("mean_loss", "max") == trial_path(experiment, "c")
    assert analysis.get_best_config("only_nan", "min") is None
    assert analysis.get_best_logdir("only_nan", "min") is None


def test_corrupted_results_raise_when_read(make_experiment: MakeExperiment) -> None:
    path = make_experiment()
    result_file = Path(trial_path(os.fspath(path), "b")) / "result.json"
    lines = result_file.read_text().splitlines()
    lines[2] = lines[2][:10]
    result_file.write_text("\n".join(lines) + "\n")
    analysis = ExperimentAnalysis(path)
    assert analysis.get_best_trial().trial_id == "b"  # type: ignore[union-attr]
    with pytest.raises(TuneError, match=r"result.json is corrupted: line 3"):
        analysis.get_best_trial(scope="avg")


# -- checkpoints ---------------------------------------------------------------------------


def checkpoint_of(experiment: str, trial_id: str, iteration: int) -> Checkpoint:
    return Checkpoint(
        os.path.join(trial_path(experiment, trial_id), f"checkpoint_{iteration:06d}")
    )


def test_get_best_checkpoint(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    trial_a = analysis.trials[0]
    assert analysis.get_best_checkpoint(trial_a) == checkpoint_of(experiment, "a", 2)
    assert analysis.get_best_checkpoint(trial_a, "mean_loss", "max") == checkpoint_of(
        experiment, "a", 1
    )
    assert analysis.get_best_checkpoint(trial_a, "eval/acc", "max") == checkpoint_of(
        experiment, "a", 3
    )
    # By trial id or path as well.
    by_id = analysis.get_best_checkpoint("a", "training_iteration", "max")
    assert by_id == checkpoint_of(experiment, "a", 3)
    by_path = analysis.get_best_checkpoint(trial_path(experiment, "a"), "mean_loss", "min")
    assert by_path == checkpoint_of(experiment, "a", 2)
    assert analysis.get_best_checkpoint("b") is None


def test_get_best_checkpoint_errors(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    with pytest.raises(MetricNotFoundError, match=r"metric 'nope' is not in the metrics"):
        analysis.get_best_checkpoint("a", "nope", "min")
    with pytest.raises(ValueError, match="'zzz' is not a trial id, name or path"):
        analysis.get_best_checkpoint("zzz")


def test_get_last_checkpoint(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    assert analysis.get_last_checkpoint("a") == checkpoint_of(experiment, "a", 3)
    # Without a trial: the trial that ran longest (b), which kept none.
    assert analysis.get_last_checkpoint() is None


# -- best_* properties ---------------------------------------------------------------------


def test_best_properties(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment)
    assert analysis.best_trial.trial_id == "b"  # type: ignore[union-attr]
    assert analysis.best_config == {"alpha": 0.01, "beta": 3, "opt": {"name": "sgd"}}
    assert analysis.best_logdir == trial_path(experiment, "b")
    assert analysis.best_result["mean_loss"] == 1.1
    assert analysis.best_result["config"]["beta"] == 3
    assert analysis.best_checkpoint is None  # b kept none
    assert list(analysis.best_dataframe["mean_loss"]) == [5.0, 2.5, 1.5, 1.2, 1.1, 1.1]
    result_df = analysis.best_result_df
    assert list(result_df.index) == ["b"]
    assert result_df.loc["b", "mean_loss"] == 1.1
    assert result_df.loc["b", "config/opt/name"] == "sgd"


def test_best_checkpoint_with_defaults(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment, default_metric="eval/f1", default_mode="max")
    assert analysis.best_trial.trial_id == "a"  # type: ignore[union-attr]
    assert analysis.best_checkpoint == checkpoint_of(experiment, "a", 2)


@pytest.mark.parametrize(
    "name",
    [
        "best_trial",
        "best_config",
        "best_logdir",
        "best_checkpoint",
        "best_dataframe",
        "best_result",
        "best_result_df",
    ],
)
def test_best_properties_need_defaults(make_experiment: MakeExperiment, name: str) -> None:
    analysis = ExperimentAnalysis(make_experiment(metric=None, mode=None))
    with pytest.raises(ValueError, match=rf"To fetch the `{name}`, pass a `metric` and `mode`"):
        getattr(analysis, name)


def test_best_result_without_finite_metric(experiment: str) -> None:
    analysis = ExperimentAnalysis(experiment, default_metric="only_nan", default_mode="min")
    assert analysis.best_trial is None
    with pytest.raises(ValueError, match="No best trial found"):
        analysis.best_result  # noqa: B018
