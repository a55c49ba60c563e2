"""The controller, driven directly through the scripted executor (no worker processes)."""

from __future__ import annotations

import io
import json
import os

import pytest

from overtone._controller import Controller
from overtone._errors import (
    ExperimentStalledError,
    NotResumableError,
    TrialCannotStartError,
    TrialsHeldBackError,
)
from overtone._experiment import ExperimentSpec
from overtone._state import ResumeMode, restore_experiment
from overtone._trial import Resources, TrialStatus
from overtone.callbacks import Callback
from overtone.config import CheckpointConfig, FailureConfig
from overtone.executors._scripted import ScriptedExecutor, Step
from overtone.schedulers import Decision, FIFOScheduler, TrialRestart, TrialScheduler
from overtone.search import BasicVariantGenerator
from overtone.stopper import Stopper


def counting(n: int, *, checkpoint_every: int = 0, fail_at: int | None = None):
    """A script: ``n`` steps reporting ``score = x * iteration``; its state is the iteration."""

    def script(info, state):
        start = info.start_iteration
        for i in range(start + 1, n + 1):
            if fail_at is not None and i == fail_at and state is None:
                raise RuntimeError(f"boom at {i}")
            every = checkpoint_every and i % checkpoint_every == 0
            yield Step({"score": info.config["x"] * i}, state=i, checkpoint=bool(every))

    return script


def make_spec(tmp_path, script, xs=(1,), **kwargs) -> ExperimentSpec:
    space = {"x": {"grid_search": list(xs)}}
    searcher = BasicVariantGenerator()
    searcher.set_search_properties(kwargs.get("metric"), kwargs.get("mode"), space, seed=0)
    scheduler = kwargs.pop("scheduler", FIFOScheduler())
    scheduler.set_search_properties(kwargs.get("metric"), kwargs.get("mode"))
    executor = kwargs.pop("executor", None) or ScriptedExecutor(script, Resources(cpu=2))
    return ExperimentSpec(
        trainable_blob=b"",
        trainable_name="fake",
        name="exp",
        experiment_path=str(tmp_path / "exp"),
        param_space=space,
        searcher=searcher,
        scheduler=scheduler,
        stopper=kwargs.pop("stopper", None),
        executor=executor,
        resources=kwargs.pop("resources", Resources(cpu=1)),
        verbose=kwargs.pop("verbose", 0),
        default_loggers=False,
        **kwargs,
    )


def run(spec: ExperimentSpec) -> Controller:
    controller = Controller(spec)
    controller.run()
    return controller


def journal(trial) -> list[dict]:
    with open(os.path.join(trial.path, "result.json")) as f:
        return [json.loads(line) for line in f]


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_trial_start(self, iteration, trials, trial, **info):
        self.calls.append(("start", trial.trial_id))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.calls.append(("result", trial.trial_id, result["training_iteration"]))

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self.calls.append(("checkpoint", trial.trial_id, os.path.basename(checkpoint)))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.calls.append(("complete", trial.trial_id))

    def on_trial_error(self, iteration, trials, trial, **info):
        self.calls.append(("error", trial.trial_id))


class Scripted(TrialScheduler):
    """Answers each (trial number, iteration) from a table; CONTINUE otherwise."""

    def __init__(self, answers: dict[tuple[int, int], object]) -> None:
        super().__init__()
        self.answers = answers
        self.seen: list[tuple[str, int]] = []
        self.completed: list[str] = []

    def on_trial_result(self, trial, result):
        self.seen.append((trial.trial_id, result["training_iteration"]))
        number = int(trial.trial_id.rpartition("_")[2])
        return self.answers.get((number, result["training_iteration"]), Decision.CONTINUE)

    def on_trial_complete(self, trial, result):
        self.completed.append(trial.trial_id)


# -- routing ---------------------------------------------------------------------------------
def test_every_result_reaches_the_journal_the_searcher_and_the_callbacks(tmp_path):
    recorder = Recorder()
    spec = make_spec(tmp_path, counting(3), xs=(1, 2), callbacks=[recorder])
    controller = run(spec)
    trials = sorted(controller.trials.values(), key=lambda t: t.trial_id)
    assert [t.status for t in trials] == [TrialStatus.TERMINATED] * 2
    for trial, x in zip(trials, (1, 2)):
        rows = journal(trial)
        assert [r["score"] for r in rows] == [x, 2 * x, 3 * x]
        assert [r["training_iteration"] for r in rows] == [1, 2, 3]
        assert trial.last_result["done"] is True and trial.last_result["score"] == 3 * x
        assert ("complete", trial.trial_id) in recorder.calls
        results = [c[2] for c in recorder.calls if c[:2] == ("result", trial.trial_id)]
        assert results == [1, 2, 3]
    # FIFO without a stopper: no decision is sent, the trials stream their results.
    assert spec.executor.decisions == []
    state = json.load(open(os.path.join(spec.experiment_path, "experiment_state.json")))
    assert {t["status"] for t in state["trials"]} == {"TERMINATED"}


def test_done_stops_and_the_scheduler_sees_every_result_in_order(tmp_path):
    def script(info, state):
        for i in range(1, 10):
            yield {"score": i, "done": i == 2}

    scheduler = Scripted({})
    spec = make_spec(tmp_path, script, scheduler=scheduler)
    controller = run(spec)
    (trial,) = controller.trials.values()
    assert scheduler.seen == [(trial.trial_id, 1), (trial.trial_id, 2)]
    assert spec.executor.decisions == [(trial.trial_id, "CONTINUE"), (trial.trial_id, "STOP")]
    assert scheduler.completed == [trial.trial_id]
    assert len(journal(trial)) == 2


def test_a_scheduler_stop_ends_the_trial_at_that_result(tmp_path):
    scheduler = Scripted({(0, 2): Decision.STOP})
    spec = make_spec(tmp_path, counting(5), xs=(1, 2), scheduler=scheduler)
    controller = run(spec)
    first, second = sorted(controller.trials.values(), key=lambda t: t.trial_id)
    assert len(journal(first)) == 2 and first.status == TrialStatus.TERMINATED
    assert len(journal(second)) == 5


def test_a_stopper_stops_one_trial_or_all(tmp_path):
    class StopAt(Stopper):
        def __init__(self, all_at=None):
            self.all_at = all_at
            self.seen = 0

        def __call__(self, trial_id, result):
            self.seen += 1
            return result["score"] >= 2

        def stop_all(self):
            return self.all_at is not None and self.seen >= self.all_at

    controller = run(make_spec(tmp_path / "one", counting(5), xs=(1, 2), stopper=StopAt()))
    lengths = sorted(len(journal(t)) for t in controller.trials.values())
    assert lengths == [1, 2]  # x=2 reaches 2 at once, x=1 at its second result
    spec = make_spec(tmp_path / "all", counting(50), xs=(0, 0), stopper=StopAt(all_at=3))
    controller = run(spec)
    assert all(t.status == TrialStatus.TERMINATED for t in controller.trials.values())
    assert sum(len(journal(t)) for t in controller.trials.values()) == 3
    assert spec.executor.killed  # the other one was running: it is killed, not waited for


def test_pause_saves_and_the_trial_resumes_from_that_checkpoint(tmp_path):
    scheduler = Scripted({(0, 2): Decision.PAUSE})
    spec = make_spec(tmp_path, counting(4), scheduler=scheduler)
    controller = run(spec)
    (trial,) = controller.trials.values()
    assert trial.status == TrialStatus.TERMINATED
    assert spec.executor.started == [trial.trial_id] * 2
    assert os.path.isdir(os.path.join(trial.path, "checkpoint_000002"))
    assert [c["dirname"] for c in trial.checkpoints] == ["checkpoint_000002"]
    rows = journal(trial)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4]  # nothing twice
    assert [r["iterations_since_restore"] for r in rows] == [1, 2, 1, 2]


def test_a_restart_copies_another_trials_checkpoint_with_a_new_config(tmp_path):
    exp = tmp_path / "exp"
    source = None

    class Exploit(Scripted):
        def on_trial_result(self, trial, result):
            nonlocal source
            number = int(trial.trial_id.rpartition("_")[2])
            if number == 0 and result["training_iteration"] == 2:
                source = os.path.join(trial.path, "checkpoint_000002")
            if number == 1 and result["training_iteration"] == 3 and trial.config["x"] == 2:
                return TrialRestart(config={"x": 10}, checkpoint=source)
            return Decision.CONTINUE

    spec = make_spec(tmp_path, counting(4, checkpoint_every=2), xs=(1, 2), scheduler=Exploit({}))
    spec.max_concurrent_trials = 1
    controller = run(spec)
    first, second = sorted(controller.trials.values(), key=lambda t: t.trial_id)
    assert second.config == {"x": 10}
    assert str(exp) in second.path
    # It went on from the copy of the first trial's checkpoint at iteration 2.
    rows = journal(second)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["score"] == 40
    assert os.path.isdir(os.path.join(first.path, "checkpoint_000002"))
    assert os.path.isdir(os.path.join(second.path, "checkpoint_000002"))


# -- errors -----------------------------------------------------------------------------------
def test_a_failure_is_recorded_and_retried_from_the_latest_checkpoint(tmp_path):
    recorder = Recorder()
    spec = make_spec(
        tmp_path,
        counting(4, checkpoint_every=1, fail_at=3),
        failure_config=FailureConfig(max_failures=1),
        callbacks=[recorder],
    )
    controller = run(spec)
    (trial,) = controller.trials.values()
    assert trial.status == TrialStatus.TERMINATED and trial.num_failures == 1
    text = open(os.path.join(trial.path, "error.txt")).read()
    assert "Failure # 1" in text and "RuntimeError: boom at 3" in text
    assert [r["training_iteration"] for r in journal(trial)] == [1, 2, 3, 4]
    assert ("error", trial.trial_id) not in recorder.calls


def test_a_trial_out_of_retries_ends_in_error_and_fail_fast_stops_the_rest(tmp_path):
    recorder = Recorder()
    spec = make_spec(
        tmp_path,
        counting(100, fail_at=2),
        xs=(1, 2, 3),
        failure_config=FailureConfig(max_failures=0, fail_fast=True),
        callbacks=[recorder],
    )
    controller = run(spec)
    first, second = sorted(controller.trials.values(), key=lambda t: t.trial_id)
    # The first fails at its second step; the second, running beside it, is killed; the third
    # is never created.
    assert (first.status, second.status) == (TrialStatus.ERROR, TrialStatus.TERMINATED)
    assert spec.executor.killed == [second.trial_id]
    assert ("error", first.trial_id) in recorder.calls
    assert ("complete", second.trial_id) in recorder.calls


def test_a_scheduler_that_holds_everything_back_is_a_clear_error(tmp_path):
    class Holder(Scripted):
        def choose_trial_to_run(self, candidates):
            return None

    spec = make_spec(tmp_path, counting(5), scheduler=Holder({(0, 1): Decision.PAUSE}))
    with pytest.raises(TrialsHeldBackError, match="Holder holds 1 paused or pending") as info:
        run(spec)
    assert isinstance(info.value, ExperimentStalledError)
    assert isinstance(info.value, RuntimeError)  # what the controller raised before


def test_a_trial_that_can_never_start_is_a_clear_error(tmp_path):
    restart = TrialRestart(resources={"cpu": 3})
    spec = make_spec(tmp_path, counting(5), scheduler=Scripted({(0, 1): restart}))
    with pytest.raises(TrialCannotStartError, match=r"needs \{'cpu': 3\b.*cannot start it"):
        run(spec)


def test_a_searcher_state_that_could_not_be_saved_is_not_resumable(tmp_path):
    spec = make_spec(tmp_path, counting(1))
    run(spec)
    state_file = os.path.join(spec.experiment_path, "search_state.pkl")
    import cloudpickle

    with open(state_file, "wb") as f:
        f.write(cloudpickle.dumps({"error": "Searcher: cannot pickle"}))
    restored = restore_experiment(spec.experiment_path, ResumeMode())
    again = make_spec(tmp_path, counting(1), restored=restored)
    with pytest.raises(NotResumableError, match="cannot be resumed.*cannot pickle"):
        Controller(again)


# -- checkpoints ------------------------------------------------------------------------------
def test_num_to_keep_prunes_by_score_and_marks_the_latest_that_is_not_a_best(tmp_path):
    scores = [5, 1, 9, 3, 7, 2]

    def script(info, state):
        for s in scores:
            yield Step({"score": s}, state=s, checkpoint=True)

    config = CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="score")
    controller = run(make_spec(tmp_path, script, checkpoint_config=config))
    (trial,) = controller.trials.values()
    on_disk = sorted(n for n in os.listdir(trial.path) if n.startswith("checkpoint_"))
    assert on_disk == ["checkpoint_000003", "checkpoint_000005", "checkpoint_000006"]
    kept = [(c["dirname"], c.get("best", True)) for c in trial.checkpoints]
    assert kept == [
        ("checkpoint_000003", True),
        ("checkpoint_000005", True),
        ("checkpoint_000006", False),
    ]


def test_checkpoint_at_end_registers_the_final_checkpoint(tmp_path):
    spec = make_spec(
        tmp_path, counting(3), checkpoint_config=CheckpointConfig(checkpoint_at_end=True)
    )
    controller = run(spec)
    (trial,) = controller.trials.values()
    assert [c["dirname"] for c in trial.checkpoints] == ["checkpoint_000003"]
    assert trial.checkpoints[0]["metrics"]["score"] == 3


# -- output -----------------------------------------------------------------------------------
def test_progress_lines_go_through_the_output_callback(tmp_path):
    stream = io.StringIO()
    spec = make_spec(tmp_path, counting(2), verbose=3, stream=stream, metric="score", mode="max")
    controller = run(spec)
    (trial,) = controller.trials.values()
    text = stream.getvalue()
    assert f"Trial {trial.trial_name} reported score=1" in text
    assert f"Trial {trial.trial_name} completed after 2 iterations" in text
    assert "== Experiment finished ==" in text and "Best trial" in text
    quiet = io.StringIO()
    run(make_spec(tmp_path / "q", counting(2), verbose=0, stream=quiet))
    assert quiet.getvalue() == ""
