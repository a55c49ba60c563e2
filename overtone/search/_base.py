"""The searcher interface: suggests configs and learns from their results."""

from __future__ import annotations

import pickle
from typing import Any

from overtone._checks import check_mode


class Searcher:
    """Suggests configurations for new trials.

    ``suggest`` returns a config dict, ``None`` when it has nothing to suggest *yet* (for
    example while it waits for running trials), or :attr:`Searcher.FINISHED` when the search
    is over. Searchers never touch the executor: they only answer and observe.

    Args:
        metric: the result key to optimize.
        mode: ``"min"`` or ``"max"``.
    """

    FINISHED = "FINISHED"
    #: True when the searcher itself knows how many trials to make (grid x num_samples);
    #: otherwise the controller stops asking after ``num_samples`` suggestions.
    controls_trial_count = False

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        check_mode(mode)
        self._metric = metric
        self._mode = mode

    @property
    def metric(self) -> str | None:
        return self._metric

    @property
    def mode(self) -> str | None:
        return self._mode

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Receive the experiment's metric, mode and search space (and ``num_samples``,
        ``seed`` in ``spec``). Values the searcher already has take precedence.
        Returns False if the searcher cannot accept them."""
        if self._metric is None and metric is not None:
            self._metric = metric
        if self._mode is None and mode is not None:
            self._mode = mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        raise NotImplementedError

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """An intermediate result of a trial this searcher suggested."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """The trial ended; ``result`` is its last result (None if it reported nothing)."""

    # -- results from elsewhere (warm start) ---------------------------------------------
    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: Any,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> bool:
        """Learn from a config evaluated elsewhere (an earlier experiment, or the finished
        trials of a restored one) as from a trial of its own.

        Args:
            parameters: the config.
            value: its metric (a list of them for several metrics).
            error: it failed.
            pruned: it was stopped early.
            intermediate_values: the metric at each iteration.

        Returns False when this searcher does not learn from results (a random or grid
        search) or the config lies outside its space: the point is then ignored.
        """
        return False

    def add_evaluated_trials(self, trials: Any, metric: Any = None, mode: Any = None) -> int:
        """Learn from the trials of an experiment: an ``ExperimentAnalysis`` or a list of
        trial records (or snapshots). Each finished or failed trial
        is given to :meth:`add_evaluated_point` with its last value of ``metric`` (default:
        the searcher's). Returns how many the searcher took."""
        from overtone.search._warm_start import evaluated_points

        metric = metric if metric is not None else self.metric
        taken = 0
        for point in evaluated_points(trials, metric):
            taken += bool(self.add_evaluated_point(**point))
        return taken

    # State for experiment restore. Subclasses with unpicklable members override these.
    def get_state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))
