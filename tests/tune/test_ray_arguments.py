"""Ray Tune 2.x's arguments: tune.run's keywords, verbose, resume_config, Experiment,
register_trainable, Tuner.restore(...).get_results() (issue 12)."""

from __future__ import annotations

import pytest

from overtone import tune
from overtone._run_args import REFUSED
from overtone.tune.experiment import Trial
from overtone.tune.utils.log import Verbosity


def quick(config):
    for step in range(3):
        tune.report(score=config["x"] * (step + 1))


def _run(tmp_path, executor, **kwargs):
    kwargs.setdefault("config", {"x": tune.grid_search([1, 2])})
    return tune.run(quick, storage_path=str(tmp_path), executor=executor, **kwargs)


@pytest.mark.parametrize("verbose", [False, True, Verbosity.V0_MINIMAL])
def test_verbose_takes_bools_and_ray_levels(tmp_path, executor, capsys, verbose):
    analysis = _run(tmp_path, executor, verbose=verbose)
    assert len(analysis.trials) == 2
    out = capsys.readouterr().out
    assert (out != "") is bool(verbose)


def test_run_config_verbose_bool_becomes_a_level():
    assert tune.RunConfig(verbose=False).verbose == 0
    assert tune.RunConfig(verbose=True).verbose == 1
    with pytest.raises(ValueError, match="verbose is 7"):
        tune.RunConfig(verbose=7)


@pytest.mark.parametrize("keyword", sorted(REFUSED))
def test_ray_keywords_overtone_does_not_honour_name_their_replacement(tmp_path, keyword):
    with pytest.raises(ValueError, match=rf"{keyword}=.*use .+ instead"):
        tune.run(quick, storage_path=str(tmp_path), **{keyword: "x"})


def test_unknown_keyword_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="no_such_keyword"):
        tune.run(quick, storage_path=str(tmp_path), no_such_keyword=1)


def test_remote_false_is_accepted(tmp_path, executor):
    assert len(_run(tmp_path, executor, _remote=False, verbose=0).trials) == 2


def test_searcher_and_scheduler_by_name(tmp_path, executor):
    analysis = _run(
        tmp_path,
        executor,
        config={"x": tune.uniform(0, 1)},
        num_samples=2,
        search_alg="random",
        scheduler="async_hyperband",
        metric="score",
        mode="max",
        verbose=0,
    )
    assert len(analysis.trials) == 2


def test_resume_config_resumes_errored_trials(tmp_path, executor):
    marker = tmp_path / "fail_once"
    marker.write_text("")

    def flaky(config):
        if marker.exists():
            marker.unlink()
            raise RuntimeError("first time")
        tune.report(score=1)

    first = tune.run(
        flaky,
        name="exp",
        storage_path=str(tmp_path),
        executor=executor,
        verbose=0,
        raise_on_failed_trial=False,
    )
    assert [str(t.status) for t in first.trials] == ["ERROR"]
    again = tune.run(
        flaky,
        name="exp",
        storage_path=str(tmp_path),
        executor=executor,
        verbose=0,
        resume_config=tune.ResumeConfig(errored=tune.ResumeConfig.ResumeType.RESTART),
    )
    assert [str(t.status) for t in again.trials] == ["TERMINATED"]


def test_resume_config_refuses_what_cannot_be_done(tmp_path):
    with pytest.raises(ValueError, match="finished is"):
        tune.run(
            quick, name="e", storage_path=str(tmp_path), resume_config={"finished": "RESTART"}
        )


def test_experiment_and_run_experiments(tmp_path, executor):
    exp = tune.Experiment(
        "one", quick, config={"x": tune.grid_search([1, 2, 3])}, storage_path=str(tmp_path)
    )
    analysis = tune.run(exp, executor=executor, verbose=0, metric="score", mode="max")
    assert analysis.best_config == {"x": 3}
    trials = tune.run_experiments(
        {"two": {"run": quick, "config": {"x": 5}, "storage_path": str(tmp_path)}},
        executor=executor,
        verbose=0,
    )
    assert [t.config for t in trials] == [{"x": 5}]
    assert all(isinstance(t, Trial) for t in trials)
    assert trials[0].status == Trial.TERMINATED
    with pytest.raises(ValueError, match="Experiment only"):
        tune.run(exp, config={"x": 1})


def test_register_trainable_by_name(tmp_path, executor):
    tune.register_trainable("quick_by_name", quick)
    analysis = _run(tmp_path, executor, verbose=0)  # by object still works
    assert len(analysis.trials) == 2
    grid = tune.Tuner(
        "quick_by_name",
        param_space={"x": 4},
        run_config=tune.RunConfig(storage_path=str(tmp_path), executor=executor, verbose=0),
    ).fit()
    assert grid[0].metrics["score"] == 12
    with pytest.raises(ValueError, match="no trainable was registered"):
        tune.run("not_registered", storage_path=str(tmp_path))


def test_tuner_restore_get_results_without_fit(tmp_path, executor):
    grid = tune.Tuner(
        quick,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="score", mode="max"),
        run_config=tune.RunConfig(
            name="exp", storage_path=str(tmp_path), executor=executor, verbose=0
        ),
    ).fit()
    restored = tune.Tuner.restore(str(tmp_path / "exp"), trainable=quick)
    results = restored.get_results()
    assert len(results) == 2
    assert results.get_best_result().metrics["score"] == grid.get_best_result().metrics["score"]
    assert sorted(r.metrics["score"] for r in results) == [3, 6]


def test_callbacks_receive_trials(tmp_path, executor):
    seen = []

    class Spy(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            seen.append(isinstance(trial, Trial) and trial.status == Trial.RUNNING)

    _run(tmp_path, executor, callbacks=[Spy()], verbose=0)
    assert seen and all(seen)
    with pytest.raises(TypeError, match="cannot be made by user code"):
        Trial("t")


def test_sync_config_is_checked():
    assert tune.RunConfig(sync_config=tune.SyncConfig(sync_period=5)).sync_config.sync_period == 5
    with pytest.raises(ValueError, match="storage_path"):
        tune.SyncConfig(upload_dir="s3://bucket")
    with pytest.raises(ValueError, match="sync_period is -1"):
        tune.SyncConfig(sync_period=-1)


def test_old_spellings_of_settings(tmp_path):
    assert tune.RunConfig(local_dir=str(tmp_path)).storage_path == str(tmp_path)
    with pytest.raises(ValueError, match="storage_path only"):
        tune.RunConfig(local_dir="a", storage_path="b")
    assert tune.TuneConfig(chdir_to_trial_dir=False).chdir_to_trial_dir is False
    with pytest.raises(ValueError, match="get_trial_dir"):
        tune.TuneConfig(chdir_to_trial_dir=True)


def test_checkpoint_score_attr_with_min_prefix(tmp_path, executor):
    class Scored(tune.Trainable):
        def step(self):
            return {"loss": [5, 1, 3, 4][self.iteration], "done": self.iteration >= 3}

        def save_checkpoint(self, checkpoint_dir):
            return {"it": self.iteration}

    analysis = tune.run(
        Scored,
        checkpoint_freq=1,
        keep_checkpoints_num=1,
        checkpoint_score_attr="min-loss",
        storage_path=str(tmp_path),
        executor=executor,
        verbose=0,
    )
    best = analysis.get_best_checkpoint(analysis.trials[0], metric="loss", mode="min")
    assert best is not None and best.path.endswith("checkpoint_000002")


def test_max_concurrent_trials_zero_is_no_limit():
    assert tune.TuneConfig(max_concurrent_trials=0).max_concurrent_trials is None


def test_tuner_restore_with_a_resume_config(tmp_path, executor):
    marker = tmp_path / "fail_once"
    marker.write_text("")

    def flaky(config):
        if marker.exists():
            marker.unlink()
            raise RuntimeError("first time")
        tune.report({"score": 1})

    run_config = tune.RunConfig(name="r", storage_path=str(tmp_path), executor=executor, verbose=0)
    assert tune.Tuner(flaky, run_config=run_config).fit().num_errors == 1
    restored = tune.Tuner.restore(
        str(tmp_path / "r"),
        trainable=flaky,
        _resume_config=tune.ResumeConfig(errored=tune.ResumeConfig.ResumeType.RESTART),
    )
    assert restored.get_results().num_errors == 1  # before fit: as it was on disk
    grid = restored.fit()
    assert grid.num_errors == 0 and grid[0].metrics["score"] == 1
    with pytest.raises(ValueError, match="unfinished is RESTART"):
        tune.ResumeConfig(unfinished="restart")
