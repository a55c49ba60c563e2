"""Replaying one trial's PBT lineage: its config schedule, as a single trial."""

from __future__ import annotations

import json
import os
from collections import deque
from typing import Any

from overtone._trial import FrozenTrial
from overtone.schedulers._base import Decision, TrialRestart, TrialScheduler


def read_policy(policy_file: str) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
    """(initial config, [(step, config from that step on)]) from a ``pbt_policy_*.txt``.

    Reads Overtone's rows (8 fields) and Ray Tune's (6 fields:
    ``[old_tag, new_tag, old_step, new_step, old_config, new_config]``)."""
    if not os.path.isfile(policy_file):
        raise ValueError(f"policy_file is {policy_file!r}, but there is no such file")
    rows = []
    with open(policy_file, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, list) or len(row) not in (6, 8):
                raise ValueError(
                    f"line {number} of {policy_file!r} is not a PBT policy row: it must be a "
                    "JSON list of 8 fields (or Ray Tune's 6)"
                )
            if len(row) == 8:
                rows.append((int(row[5]), row[6], row[7]))
            else:
                rows.append((int(row[3]), row[4], row[5]))
    if not rows:
        raise ValueError(f"policy_file {policy_file!r} has no exploits to replay")
    initial = rows[0][1]
    return initial, [(step, config) for step, _, config in rows]


class PopulationBasedTrainingReplay(TrialScheduler):
    """Runs one trial through the config changes a PBT trial went through.

    Give the experiment ``param_space=replay.config`` (the lineage's initial config) and
    ``num_samples=1``; at each recorded step the trial restarts from its own latest checkpoint
    with the recorded config, so it should checkpoint at least at those steps (class
    trainables save one at each restart).

    Args:
        policy_file: a ``pbt_policy_<trial_id>.txt`` written by
            :class:`PopulationBasedTraining`.

    Example::

        replay = PopulationBasedTrainingReplay("~/overtone_results/exp/pbt_policy_ab_00003.txt")
        tune.Tuner(train, param_space=replay.config,
                   tune_config=tune.TuneConfig(scheduler=replay)).fit()
    """

    def __init__(self, policy_file: str) -> None:
        super().__init__()
        path = os.path.expanduser(policy_file)
        self.config, policy = read_policy(path)
        self._policy_file = path
        self._policy = deque(policy)
        self._trial_id: str | None = None
        self._num_perturbations = 0

    def on_trial_add(self, trial: FrozenTrial) -> None:
        if self._trial_id is not None and self._trial_id != trial.trial_id:
            raise ValueError(
                f"PopulationBasedTrainingReplay replays one trial, but trial {trial.trial_id} "
                f"was added after {self._trial_id}: use num_samples=1"
            )
        self._trial_id = trial.trial_id
        if trial.config != self.config:
            raise ValueError(
                f"the replayed trial's config is {trial.config!r}, but the policy starts "
                f"from {self.config!r}: pass param_space=replay.config"
            )

    def on_trial_result(
        self, trial: FrozenTrial, result: dict[str, Any]
    ) -> Decision | TrialRestart:
        step = result.get("training_iteration")
        if not isinstance(step, int) or not self._policy or step < self._policy[0][0]:
            return Decision.CONTINUE
        config = None
        while self._policy and self._policy[0][0] <= step:
            _, config = self._policy.popleft()
            self._num_perturbations += 1
        return TrialRestart(config=config)

    def debug_string(self) -> str:
        return (
            f"PopulationBasedTraining replay: {self._num_perturbations} of "
            f"{self._num_perturbations + len(self._policy)} config changes applied "
            f"from {self._policy_file}"
        )
