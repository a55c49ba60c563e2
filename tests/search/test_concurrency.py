from __future__ import annotations

import pickle

import pytest

from overtone.search import BasicVariantGenerator, ConcurrencyLimiter, Searcher, grid_search


class Recorder(Searcher):
    """Suggests ``{"i": n}`` up to ``limit`` times and records what it is told."""

    def __init__(self, limit: int = 100, wait_for_results: bool = False) -> None:
        super().__init__()
        self.limit = limit
        self.wait_for_results = wait_for_results
        self.suggested: list[str] = []
        self.results: list[tuple[str, dict]] = []
        self.completed: list[str] = []
        self.properties: tuple | None = None

    def set_search_properties(self, metric, mode, config, **spec):
        self.properties = (metric, mode, config, spec)
        return super().set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id):
        if len(self.suggested) >= self.limit:
            return Searcher.FINISHED
        if self.wait_for_results and len(self.completed) < len(self.suggested):
            return None
        self.suggested.append(trial_id)
        return {"i": len(self.suggested) - 1}

    def on_trial_result(self, trial_id, result):
        self.results.append((trial_id, result))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append(trial_id)


def test_limits_live_trials():
    limiter = ConcurrencyLimiter(Recorder(), max_concurrent=2)
    assert limiter.suggest("a") == {"i": 0}
    assert limiter.suggest("b") == {"i": 1}
    assert limiter.suggest("c") is None
    assert limiter.searcher.suggested == ["a", "b"]  # not asked while full
    limiter.on_trial_complete("a", {"loss": 1})
    assert limiter.searcher.completed == ["a"]
    assert limiter.suggest("c") == {"i": 2}
    assert limiter.live_trials == {"b", "c"}


def test_finished_and_none_pass_through_without_counting():
    limiter = ConcurrencyLimiter(Recorder(limit=2, wait_for_results=True), max_concurrent=3)
    assert limiter.suggest("a") == {"i": 0}
    assert limiter.suggest("b") is None
    assert limiter.live_trials == {"a"}
    limiter.on_trial_complete("a")
    assert limiter.suggest("b") == {"i": 1}
    limiter.on_trial_complete("b")
    assert limiter.suggest("c") == Searcher.FINISHED
    assert limiter.live_trials == frozenset()


def test_forwards_properties_results_and_flags():
    inner = Recorder()
    limiter = ConcurrencyLimiter(inner, max_concurrent=1)
    assert limiter.set_search_properties("acc", "max", {"x": 1}, num_samples=4)
    assert inner.properties == ("acc", "max", {"x": 1}, {"num_samples": 4})
    assert (limiter.metric, limiter.mode) == ("acc", "max")
    limiter.suggest("a")
    limiter.on_trial_result("a", {"acc": 0.5})
    assert inner.results == [("a", {"acc": 0.5})]
    assert limiter.controls_trial_count is False
    bvg = ConcurrencyLimiter(BasicVariantGenerator(), 2)
    assert bvg.controls_trial_count is True


def test_reaches_wrapped_searcher_api():
    limiter = ConcurrencyLimiter(BasicVariantGenerator(random_state=0), max_concurrent=1)
    limiter.set_search_properties(None, None, {"a": grid_search([1, 2])}, num_samples=2)
    assert limiter.total_samples == 4
    assert limiter.suggest("t0") == {"a": 1}
    assert limiter.last_resolved_vars("t0") == {("a",): 1}
    with pytest.raises(AttributeError):
        limiter.no_such_thing  # noqa: B018


def test_unknown_trial_completion_is_ignored():
    limiter = ConcurrencyLimiter(Recorder(), max_concurrent=1)
    limiter.on_trial_complete("stranger")
    assert limiter.searcher.completed == []


@pytest.mark.parametrize("value", [0, -1])
def test_max_concurrent_must_be_positive(value):
    with pytest.raises(ValueError, match=f"max_concurrent is {value}, but must be >= 1"):
        ConcurrencyLimiter(Recorder(), max_concurrent=value)


def test_rejects_non_searcher():
    with pytest.raises(ValueError, match="must be a Searcher"):
        ConcurrencyLimiter(object(), 1)  # type: ignore[arg-type]


def test_batch_waits_for_whole_batch():
    inner = Recorder(limit=5)
    limiter = ConcurrencyLimiter(inner, max_concurrent=2, batch=True)
    assert limiter.suggest("a") is not None
    assert limiter.suggest("b") is not None
    limiter.on_trial_complete("a", {"loss": 1})
    assert inner.completed == []  # held back
    assert limiter.suggest("c") is None  # the batch is not done
    limiter.on_trial_complete("b", {"loss": 2})
    assert inner.completed == ["a", "b"]
    assert limiter.suggest("c") is not None
    assert limiter.suggest("d") is not None
    limiter.on_trial_complete("d")
    limiter.on_trial_complete("c")
    assert inner.completed == ["a", "b", "d", "c"]


def test_batch_final_partial_batch_is_released():
    inner = Recorder(limit=3)
    limiter = ConcurrencyLimiter(inner, max_concurrent=2, batch=True)
    for trial_id in "ab":
        limiter.suggest(trial_id)
    limiter.on_trial_complete("a")
    limiter.on_trial_complete("b")
    assert limiter.suggest("c") == {"i": 2}
    assert limiter.suggest("d") == Searcher.FINISHED
    limiter.on_trial_complete("c")
    assert inner.completed == ["a", "b", "c"]


def test_batch_released_when_searcher_waits_for_results():
    inner = Recorder(wait_for_results=True)
    limiter = ConcurrencyLimiter(inner, max_concurrent=3, batch=True)
    assert limiter.suggest("a") is not None
    limiter.on_trial_complete("a")
    assert inner.completed == []
    assert limiter.suggest("b") is None  # the searcher waits: the batch of one is released
    assert inner.completed == ["a"]
    assert limiter.suggest("b") is not None


def test_state_round_trip():
    inner = BasicVariantGenerator(random_state=1)
    limiter = ConcurrencyLimiter(inner, max_concurrent=2, batch=True)
    space = {"a": grid_search([1, 2, 3, 4])}
    limiter.set_search_properties(None, None, space)
    limiter.suggest("t0")
    limiter.suggest("t1")
    limiter.on_trial_complete("t0")
    state = pickle.loads(pickle.dumps(limiter.get_state()))

    restored = ConcurrencyLimiter(BasicVariantGenerator(), max_concurrent=2, batch=True)
    restored.set_search_properties(None, None, space)
    restored.set_state(state)
    assert restored.live_trials == {"t0", "t1"}
    assert restored.suggest("t2") is None
    restored.on_trial_complete("t1")
    assert restored.suggest("t2") == {"a": 3}
    assert restored.suggest("t3") == {"a": 4}
