from __future__ import annotations

import datetime
import pickle
from typing import Any

import pytest

import overtone.stopper as stopper_pkg
from overtone.stopper import (
    CombinedStopper,
    DictStopper,
    ExperimentPlateauStopper,
    FunctionStopper,
    MaximumIterationStopper,
    NoopStopper,
    Stopper,
    TimeoutStopper,
    TrialPlateauStopper,
    make_stopper,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_public_names() -> None:
    assert sorted(stopper_pkg.__all__) == [
        "CombinedStopper",
        "DictStopper",
        "ExperimentPlateauStopper",
        "FunctionStopper",
        "MaximumIterationStopper",
        "NoopStopper",
        "Stopper",
        "TimeoutStopper",
        "TrialPlateauStopper",
        "make_stopper",
    ]


def test_noop_stopper() -> None:
    stopper = NoopStopper()
    assert stopper("t", {"training_iteration": 10**6}) is False
    assert stopper.stop_all() is False


def test_maximum_iteration_uses_training_iteration() -> None:
    stopper = MaximumIterationStopper(3)
    assert [stopper("a", {"training_iteration": i}) for i in (1, 2, 3)] == [False, False, True]
    # Another trial has its own count; a restored trial resumes from its reported iteration.
    assert stopper("b", {"training_iteration": 5}) is True
    assert stopper("c", {"training_iteration": 1}) is False
    assert stopper.stop_all() is False


def test_maximum_iteration_counts_results_without_iteration() -> None:
    stopper = MaximumIterationStopper(2)
    assert stopper("a", {}) is False
    assert stopper("a", {}) is True


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True])
def test_maximum_iteration_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"max_iter is .*, but must be an integer >= 1"):
        MaximumIterationStopper(bad)


def test_trial_plateau_stops_after_grace_and_window() -> None:
    stopper = TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=4)
    decisions = [stopper("a", {"loss": v}) for v in (5.0, 1.0, 1.0, 1.0, 1.001)]
    # Window full and flat from the 4th result, but the grace period ends with the 4th.
    assert decisions == [False, False, False, True, True]


def test_trial_plateau_not_flat_enough() -> None:
    stopper = TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=0)
    assert [stopper("a", {"loss": v}) for v in (1.0, 1.1, 1.2, 1.3)] == [False] * 4
    # The window rolls over: three flat values stop it.
    assert [stopper("a", {"loss": v}) for v in (2.0, 2.0, 2.0)] == [False, False, True]


def test_trial_plateau_per_trial_and_nested_metric() -> None:
    stopper = TrialPlateauStopper("eval/loss", num_results=2, grace_period=2)
    assert stopper("a", {"eval": {"loss": 1.0}}) is False
    assert stopper("b", {"eval": {"loss": 1.0}}) is False
    assert stopper("a", {"eval": {"loss": 1.0}}) is True
    assert stopper("b", {"other": 1}) is False  # results without the metric never stop it


def test_trial_plateau_metric_threshold() -> None:
    stopper = TrialPlateauStopper(
        "loss", num_results=2, grace_period=0, metric_threshold=0.5, mode="min"
    )
    assert [stopper("a", {"loss": v}) for v in (1.0, 1.0)] == [False, False]
    assert [stopper("a", {"loss": v}) for v in (0.4, 0.4)] == [False, True]
    maxer = TrialPlateauStopper(
        "acc", num_results=2, grace_period=0, metric_threshold=0.9, mode="max"
    )
    assert [maxer("a", {"acc": v}) for v in (0.5, 0.5, 0.95, 0.95)] == [False] * 3 + [True]


def test_trial_plateau_pickles() -> None:
    stopper = TrialPlateauStopper("loss", num_results=2, grace_period=0)
    stopper("a", {"loss": 1.0})
    restored = pickle.loads(pickle.dumps(stopper))
    assert restored("a", {"loss": 1.0}) is True


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"std": -0.1}, r"std is -0.1, but must be a number >= 0"),
        ({"num_results": 0}, r"num_results is 0, but must be an integer >= 1"),
        ({"grace_period": -1}, r"grace_period is -1, but must be an integer >= 0"),
        ({"mode": "avg"}, r"mode is 'avg', but must be 'min' or 'max'"),
        ({"metric_threshold": 1.0}, r"metric_threshold is 1.0, so mode must be"),
    ],
)
def test_trial_plateau_rejects(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrialPlateauStopper("loss", **kwargs)


def test_experiment_plateau_min() -> None:
    stopper = ExperimentPlateauStopper("loss", std=0.01, top=3, mode="min")
    assert stopper("a", {"loss": 5.0}) is False
    assert stopper("b", {"loss": 1.0}) is False
    assert stopper("a", {"loss": 1.0}) is False  # top-3 = [1, 1, 5]
    assert stopper.stop_all() is False
    assert stopper("c", {"loss": 1.005}) is True  # top-3 = [1, 1, 1.005]
    assert stopper.stop_all() is True


def test_experiment_plateau_max_and_patience() -> None:
    stopper = ExperimentPlateauStopper("acc", std=0.01, top=2, mode="max", patience=2)
    assert stopper("a", {"acc": 0.9}) is False
    assert stopper("b", {"acc": 0.9}) is False  # plateaued, 1 in a row
    assert stopper("b", {"acc": 0.1}) is True  # still top [0.9, 0.9], 2 in a row
    assert stopper.stop_all() is True


def test_experiment_plateau_resets_patience() -> None:
    stopper = ExperimentPlateauStopper("acc", std=0.01, top=2, mode="max", patience=2)
    stopper("a", {"acc": 0.5})
    stopper("a", {"acc": 0.5})  # plateaued, count 1
    stopper("a", {"acc": 0.9})  # top [0.5, 0.9]: not plateaued, count 0
    assert stopper("a", {"acc": 0.9}) is False  # count 1
    assert stopper("a", {"acc": 0.9}) is True  # count 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "best"}, r"mode is 'best', but must be 'min' or 'max'"),
        ({"mode": None}, r"mode is None, but must be 'min' or 'max'"),
        ({"top": 1}, r"top is 1, but must be an integer >= 2"),
        ({"patience": -1}, r"patience is -1, but must be an integer >= 0"),
        ({"std": -1.0}, r"std is -1.0, but must be a number >= 0"),
    ],
)
def test_experiment_plateau_rejects(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExperimentPlateauStopper("loss", **kwargs)


def test_timeout_starts_on_first_call() -> None:
    clock = FakeClock()
    stopper = TimeoutStopper(10, clock=clock)
    clock.now += 100  # time before the first call does not count
    assert stopper.stop_all() is False
    clock.now += 9.5
    assert stopper("a", {}) is False
    assert stopper.stop_all() is False
    clock.now += 0.5
    assert stopper("a", {}) is False  # trials are never stopped one by one
    assert stopper.stop_all() is True


def test_timeout_timedelta() -> None:
    clock = FakeClock()
    stopper = TimeoutStopper(datetime.timedelta(minutes=1), clock=clock)
    stopper.stop_all()
    clock.now += 59
    assert stopper.stop_all() is False
    clock.now += 1
    assert stopper.stop_all() is True


def test_timeout_pickle_keeps_time_left() -> None:
    clock = FakeClock()
    stopper = TimeoutStopper(10, clock=clock)
    stopper.stop_all()
    clock.now += 4
    restored = pickle.loads(pickle.dumps(stopper))
    assert restored._budget == pytest.approx(6)
    fresh = FakeClock()
    restored._clock = fresh
    assert restored.stop_all() is False
    fresh.now += 6
    assert restored.stop_all() is True


@pytest.mark.parametrize("bad", ["10", None, [1]])
def test_timeout_rejects_type(bad: Any) -> None:
    with pytest.raises(ValueError, match="must be a number of seconds or a datetime.timedelta"):
        TimeoutStopper(bad)


def test_timeout_rejects_negative() -> None:
    with pytest.raises(ValueError, match=r"timeout is -1, but must be >= 0 seconds"):
        TimeoutStopper(-1)


class Recording(Stopper):
    def __init__(self, answer: bool, stop_everything: bool = False) -> None:
        self.answer = answer
        self.stop_everything = stop_everything
        self.seen: list[str] = []
        self.stop_all_calls = 0

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self.seen.append(trial_id)
        return self.answer

    def stop_all(self) -> bool:
        self.stop_all_calls += 1
        return self.stop_everything


def test_combined_stopper_any_and_calls_all() -> None:
    first, second = Recording(True), Recording(False)
    combined = CombinedStopper(first, second)
    assert combined("a", {}) is True
    assert first.seen == ["a"] and second.seen == ["a"]
    assert combined.stop_all() is False
    assert CombinedStopper(Recording(False), Recording(False))("a", {}) is False
    both = [Recording(False, stop_everything=True), Recording(False)]
    assert CombinedStopper(*both).stop_all() is True
    assert both[1].stop_all_calls == 1
    assert CombinedStopper()("a", {}) is False


def test_combined_stopper_rejects_non_stopper() -> None:
    with pytest.raises(TypeError, match="is not a tune.Stopper"):
        CombinedStopper(Recording(True), {"a": 1})  # type: ignore[arg-type]


def test_function_stopper() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def fn(trial_id: str, result: dict[str, Any]) -> bool:
        calls.append((trial_id, result))
        return result["loss"] < 0.1

    stopper = FunctionStopper(fn)
    assert stopper("a", {"loss": 1.0}) is False
    assert stopper("a", {"loss": 0.05}) is True
    assert calls == [("a", {"loss": 1.0}), ("a", {"loss": 0.05})]
    assert stopper.stop_all() is False
    assert FunctionStopper.is_valid_function(fn) is True
    assert FunctionStopper.is_valid_function(NoopStopper()) is False
    with pytest.raises(TypeError, match="must be callable"):
        FunctionStopper(3)  # type: ignore[arg-type]


def test_dict_stopper() -> None:
    stopper = DictStopper({"training_iteration": 3, "mean_accuracy": 0.9})
    assert stopper("a", {"training_iteration": 2, "mean_accuracy": 0.5}) is False
    assert stopper("a", {"training_iteration": 3, "mean_accuracy": 0.5}) is True
    assert stopper("a", {"training_iteration": 1, "mean_accuracy": 0.9}) is True
    assert stopper.stop_all() is False


def test_dict_stopper_nested_paths() -> None:
    stopper = DictStopper({"eval/acc": 0.9})
    assert stopper("a", {"eval": {"acc": 0.5}}) is False
    assert stopper("a", {"eval": {"acc": 0.95}}) is True
    assert stopper("a", {"eval/acc": 0.95}) is True  # an already flattened result
    assert DictStopper({"eval": {"acc": 0.9}}).criteria == {"eval/acc": 0.9}


def test_dict_stopper_missing_key_names_existing() -> None:
    stopper = DictStopper({"mean_acc": 0.9})
    with pytest.raises(ValueError) as info:
        stopper("t1", {"loss": 1.0, "eval": {"acc": 0.2}, "config": {"x": 1}})
    message = str(info.value)
    assert "'mean_acc'" in message
    assert "['eval/acc', 'loss']" in message


def test_make_stopper() -> None:
    assert make_stopper(None) is None
    noop = NoopStopper()
    assert make_stopper(noop) is noop
    from_dict = make_stopper({"training_iteration": 2})
    assert isinstance(from_dict, DictStopper)
    assert from_dict("a", {"training_iteration": 2}) is True
    from_fn = make_stopper(lambda trial_id, result: trial_id == "x")
    assert isinstance(from_fn, FunctionStopper)
    assert from_fn("x", {}) is True and from_fn("y", {}) is False


@pytest.mark.parametrize("bad", [5, "training_iteration", [1, 2]])
def test_make_stopper_rejects(bad: Any) -> None:
    with pytest.raises(TypeError) as info:
        make_stopper(bad)
    assert str(info.value).startswith(f"stop is {bad!r}, but must be None, a dict, a function")


def test_make_stopper_rejects_duck_typed_stopper() -> None:
    class Duck:
        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return False

        def stop_all(self) -> bool:
            return False

    with pytest.raises(TypeError, match="subclass tune.Stopper"):
        make_stopper(Duck())
