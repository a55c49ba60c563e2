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
