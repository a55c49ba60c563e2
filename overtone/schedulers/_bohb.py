"""The scheduler half of BOHB (Falkner et al., "BOHB: Robust and Efficient Hyperparameter
Optimization at Scale", ICML 2018): HyperBand's brackets, telling the searcher the budget.

Pair it with :class:`overtone.tune.search.bohb.TuneBOHB`, which fits its model on the results
this scheduler marks with ``result["hyperband_info"]["budget"]`` (the rung's milestone).
"""

from __future__ import annotations

from typing import Any

from overtone._trial import FrozenTrial
from overtone.schedulers._base import Decision
from overtone.schedulers._hyperband import HyperBandScheduler
from overtone.schedulers._util import number


class HyperBandForBOHB(HyperBandScheduler):
    """:class:`HyperBandScheduler` for BOHB: each result gets a ``hyperband_info`` dict,
    with the ``budget`` where the result ends a rung (its milestone).

    Example::

        from overtone.tune.search.bohb import TuneBOHB

        tune.Tuner(
            MyTrainable,
            param_space={"lr": tune.loguniform(1e-4, 1e-1)},
            tune_config=tune.TuneConfig(
                scheduler=HyperBandForBOHB(max_t=81, reduction_factor=3),
                search_alg=TuneBOHB(), metric="loss", mode="min", num_samples=143,
            ),
        )
    """

    def on_trial_result(self, trial: FrozenTrial, result: dict[str, Any]) -> Decision:
        info: dict[str, Any] = {}
        bracket = self._trial_bracket.get(trial.trial_id)
        t = number(result.get(self._time_attr))
        if (
            bracket is not None
            and t is not None
            and trial.trial_id not in self._to_stop
            and trial.trial_id not in bracket.out
            and trial.trial_id not in bracket.arrived
            and t >= bracket.milestone
        ):
            info["budget"] = bracket.milestone
        result["hyperband_info"] = info
        return super().on_trial_result(trial, result)
