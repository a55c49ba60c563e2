"""A callback that raises is reported once, with its traceback, and the run goes on."""

from __future__ import annotations

import io
import logging

import pytest

from overtone import tune
from overtone.callbacks._guard import CallbackList


class Broken(tune.Callback):
    def __init__(self, hook: str = "on_trial_result") -> None:
        self.hook = hook
        self.calls = 0

    def _maybe_raise(self, hook: str) -> None:
        if hook == self.hook:
            self.calls += 1
            raise ZeroDivisionError(f"broken in {hook} #{self.calls}")

    def setup(self, stop=None, num_samples=None, **info):
        self._maybe_raise("setup")

    def on_trial_start(self, iteration, trials, trial, **info):
        self._maybe_raise("on_trial_start")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._maybe_raise("on_trial_result")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._maybe_raise("on_trial_complete")

    def on_experiment_end(self, trials, **info):
        self._maybe_raise("on_experiment_end")


class Recorder(tune.Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def setup(self, stop=None, num_samples=None, **info):
        self.events.append("setup")

    def on_trial_start(self, iteration, trials, trial, **info):
        self.events.append("start")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.events.append("result")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.events.append("complete")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.events.append("error")

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self.events.append("checkpoint")

    def on_experiment_end(self, trials, **info):
        self.events.append("end")


def _run_hooks(callbacks: CallbackList, trial, results: int = 3) -> None:
    callbacks.setup(stop=None, num_samples=1)
    callbacks.on_trial_start(1, [trial], trial)
    for i in range(results):
        callbacks.on_trial_result(2 + i, [trial], trial, {"training_iteration": i + 1})
    callbacks.on_checkpoint(9, [trial], trial, "/ckpt")
    callbacks.on_trial_complete(10, [trial], trial)
    callbacks.on_experiment_end([trial])


def test_a_raising_callback_is_reported_once_and_the_others_go_on(make_trial):
    stream = io.StringIO()
    broken, after = Broken(), Recorder()
    callbacks = CallbackList([broken, after], stream=stream)
    _run_hooks(callbacks, make_trial(), results=3)
    assert after.events == [
        "setup",
        "start",
        "result",
        "result",
        "result",
        "checkpoint",
        "complete",
        "end",
    ]
    assert broken.calls == 3
    text = stream.getvalue()
    assert text.count("Traceback (most recent call last)") == 1
    assert "Broken.on_trial_result raised an exception" in text
    assert "ZeroDivisionError: broken in on_trial_result #1" in text
    assert "#2" not in text
    assert "Broken.on_trial_result raised 3 times in all" in text
    assert callbacks.errors == {(0, "on_trial_result"): 3}


@pytest.mark.parametrize(
    "hook", ["setup", "on_trial_start", "on_trial_complete", "on_experiment_end"]
)
def test_every_hook_is_guarded(make_trial, hook):
    stream = io.StringIO()
    after = Recorder()
    _run_hooks(CallbackList([Broken(hook), after], stream=stream), make_trial())
    assert len(after.events) == 8
    assert f"Broken.{hook} raised an exception" in stream.getvalue()


def test_fail_fast_raises_the_first_error(make_trial):
    after = Recorder()
    callbacks = CallbackList([Broken(), after], fail_fast=True)
    trial = make_trial()
    callbacks.on_trial_start(1, [trial], trial)
    with pytest.raises(ZeroDivisionError, match="#1"):
        callbacks.on_trial_result(2, [trial], trial, {})
    assert after.events == ["start"]  # the later callbacks did not see that result


def test_without_a_stream_the_report_goes_to_logging(make_trial, caplog):
    trial = make_trial()
    with caplog.at_level(logging.ERROR, logger="overtone.callbacks"):
        CallbackList([Broken()]).on_trial_result(1, [trial], trial, {})
    (record,) = caplog.records
    assert "Broken.on_trial_result raised" in record.getMessage()
    assert "ZeroDivisionError" in record.getMessage()


def test_keyboard_interrupt_is_not_swallowed(make_trial):
    class Interrupting(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            raise KeyboardInterrupt

    trial = make_trial()
    with pytest.raises(KeyboardInterrupt):
        CallbackList([Interrupting()]).on_trial_result(1, [trial], trial, {})


def test_it_is_a_sequence_and_checks_its_items():
    a, b = Recorder(), Recorder()
    callbacks = CallbackList([a, b])
    assert list(callbacks) == [a, b] and len(callbacks) == 2 and callbacks[1] is b
    assert not CallbackList() and CallbackList([a])
    with pytest.raises(TypeError, match="must be a tune.Callback"):
        CallbackList([a, object()])


def steady(config):
    for step in range(4):
        tune.report({"loss": 1.0 / (step + 1)})


def test_a_run_survives_a_raising_callback(tmp_path, executor):
    stream = io.StringIO()
    recorder = Recorder()
    analysis = tune.run(
        steady,
        config={"x": tune.grid_search([1, 2])},
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        callbacks=[CallbackList([Broken(), recorder], stream=stream)],
    )
    assert all(str(t.status) == "TERMINATED" for t in analysis.trials)
    assert recorder.events.count("result") == 8
    assert stream.getvalue().count("Traceback (most recent call last)") == 1
    assert "raised 8 times in all" in stream.getvalue()
