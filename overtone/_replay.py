"""``tune.replay``: run a recorded experiment's learning curves again, under another scheduler
or searcher, on a simulated clock.

Every trial of the recorded experiment becomes a row of a
:class:`~overtone.executors._simulated.CurveTable`; a :class:`SimulatedExecutor` plays the
curves back through the real controller, so the scheduler stops, pauses and promotes trials
exactly as it would have, and each result costs the seconds it took when it was recorded.
The report says what the replay found and what it cost, beside what the recording did.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from overtone._run import execute
from overtone.analysis import ExperimentAnalysis, ResultGrid
from overtone.analysis._trial_record import TrialRecord
from overtone.config import RunConfig, TuneConfig
from overtone.executors._simulated import CurveTable, SimulatedExecutor
from overtone.search._base import Searcher
from overtone.storage._layout import RESULT_FILE


def _recorded(config: dict[str, Any]) -> None:
    """The trainable of a replay: never run, the SimulatedExecutor plays recorded results."""
    raise RuntimeError("a replayed trial runs only under a SimulatedExecutor")


class RecordedConfigs(Searcher):
    """Suggests the recorded configs, in the order they were recorded, then is done."""

    controls_trial_count = True

    def __init__(self, configs: list[dict[str, Any]]) -> None:
        super().__init__()
        self._configs = list(configs)
        self._next = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._next >= len(self._configs):
            return Searcher.FINISHED
        config = self._configs[self._next]
        self._next += 1
        return dict(config)


@dataclass
class Cost:
    """What a run spent: results, compute seconds (summed over trials) and wall seconds."""

    trials: int
    iterations: int
    compute_s: float
    wall_s: float | None = None


@dataclass
class ReplayReport:
    """What a replay found and cost, beside the recording.

    Attributes:
        result_grid: the replay's trials, as ``Tuner.fit()`` returns them.
        best_config, best_value: the replay's best trial by ``metric``/``mode`` (its last
            result), or, for several metrics, None (see ``pareto_front``).
        recorded_best_config, recorded_best_value: the same for the recording.
        cost, recorded_cost: results reported, compute seconds and (for the replay, on the
            simulated clock) wall seconds with ``num_slots`` trials at a time.
        pareto_front: for several metrics, the replay's Pareto-optimal results.
    """

    result_grid: ResultGrid
    metric: Any
    mode: Any
    best_config: dict[str, Any] | None
    best_value: float | None
    recorded_best_config: dict[str, Any] | None
    recorded_best_value: float | None
    cost: Cost
    recorded_cost: Cost
    pareto_front: list[Any] = field(default_factory=list)

    @property
    def savings(self) -> float:
        """The fraction of the recording's compute the replay did not need."""
        if self.recorded_cost.compute_s <= 0:
            return 0.0
        return 1.0 - self.cost.compute_s / self.recorded_cost.compute_s

    def __str__(self) -> str:
        lines = [
            f"replay: {self.cost.trials} trials, {self.cost.iterations} results, "
            f"{self.cost.compute_s:.6g} s of compute, {self.cost.wall_s or 0:.6g} s simulated",
            f"recorded: {self.recorded_cost.trials} trials, {self.recorded_cost.iterations} "
            f"results, {self.recorded_cost.compute_s:.6g} s of compute",
        ]
        if self.best_value is not None:
            lines.append(
                f"best {self.metric} ({self.mode}): replay {self.best_value:.6g}, recorded "
                f"{self.recorded_best_value:.6g}; compute saved {self.savings:.1%}"
            )
        elif self.pareto_front:
            lines.append(f"Pareto front: {len(self.pareto_front)} trials")
        return "\n".join(lines)


def replay(
    experiment: str | os.PathLike[str] | ExperimentAnalysis,
    *,
    scheduler: Any = None,
    search_alg: Any = None,
    param_space: dict[str, Any] | None = None,
    metric: Any = None,
    mode: Any = None,
    num_samples: int | None = None,
    num_slots: int = 4,
    checkpoint_every: int = 0,
    stop: Any = None,
    storage_path: str | None = None,
    name: str | None = None,
    seed: int | None = None,
) -> ReplayReport:
    """Re-run a recorded experiment's learning curves under ``scheduler`` (and ``search_alg``)
    at simulated time, and report what it would have found and cost.

    Args:
        experiment: the recorded experiment's folder, or its ``ExperimentAnalysis``.
        scheduler: the trial scheduler to try (default: FIFO, every curve to its end).
        search_alg: a searcher to try instead of the recorded configs, in order; it needs
            ``param_space``, and a config it proposes that was not recorded gets the curve
            of the nearest recorded one.
        param_space: the space ``search_alg`` searches.
        metric, mode: default: the recording's.
        num_samples: how many trials ``search_alg`` makes (default: as many as recorded).
        num_slots: how many trials run at once on the simulated clock.
        checkpoint_every: simulated checkpoints, for schedulers that pause trials (HyperBand,
            PBT): every this many results.
        stop: a stopping condition, as ``RunConfig(stop=...)``.
        storage_path: where the replay is written (default: a new temporary folder, in
            ``/dev/shm`` where there is one; remove it when done).
        name: the replay's experiment name (default: ``replay``).
        seed: the replay's seed (ASHA brackets, searchers).

    Example::

        report = tune.replay("~/overtone_results/my_exp",
                             scheduler=ASHAScheduler(max_t=100, reduction_factor=4))
        print(report)            # found and cost, beside the recording
        report.result_grid.get_dataframe()
    """
    analysis = (
        experiment
        if isinstance(experiment, ExperimentAnalysis)
        else ExperimentAnalysis(os.path.expanduser(os.fspath(experiment)))
    )
    metric = metric if metric is not None else analysis.default_metric
    mode = mode if mode is not None else analysis.default_mode
    rows = []
    for trial in analysis.trials:
        results = _read_curve(trial)
        if results:
            rows.append((trial.config, results))
    if not rows:
        raise ValueError(
            f"experiment {analysis.experiment_path} has no trial with results, but a replay "
            "needs recorded learning curves"
        )
    table = CurveTable(rows)
    if search_alg is None:
        if param_space is not None:
            raise ValueError(
                "param_space is given, but without search_alg the replay runs the recorded "
                "configs: pass search_alg= to search param_space"
            )
        search_alg = RecordedConfigs([config for config, _ in rows])
        param_space = {}
        num_samples = 1
    elif param_space is None:
        param_space = {}
    executor = SimulatedExecutor(table, num_slots=num_slots, checkpoint_every=checkpoint_every)
    if storage_path is None:
        # A throwaway run of many small files: in memory where the system offers it.
        shm = "/dev/shm"
        memory = os.path.isdir(shm) and os.access(shm, os.W_OK)
        storage_path = tempfile.mkdtemp(prefix="overtone-replay-", dir=shm if memory else None)
    # The controller directly, not a Tuner: a replay is not restored, so it needs no
    # tuner.pkl (which would pickle every recorded curve again).
    path, _ = execute(
        _recorded,
        param_space,
        TuneConfig(
            metric=metric,
            mode=mode,
            scheduler=scheduler,
            search_alg=search_alg,
            num_samples=num_samples or len(rows),
            seed=seed,
        ),
        RunConfig(
            name=name or "replay",
            storage_path=storage_path,
            executor=executor,
            stop=stop,
            verbose=0,
            default_loggers=False,
        ),
        default_verbose=0,
    )
    grid = ResultGrid(ExperimentAnalysis(path, default_metric=metric, default_mode=mode))
    cost = Cost(
        trials=len(grid),
        iterations=executor.iterations,
        compute_s=executor.compute_s,
        wall_s=executor.clock.time(),
    )
    recorded_cost = Cost(
        trials=len(rows),
        iterations=sum(len(results) for _, results in rows),
        compute_s=sum(_trial_seconds(results) for _, results in rows),
    )
    report = ReplayReport(
        result_grid=grid,
        metric=metric,
        mode=mode,
        best_config=None,
        best_value=None,
        recorded_best_config=None,
        recorded_best_value=None,
        cost=cost,
        recorded_cost=recorded_cost,
    )
    if isinstance(metric, list):
        report.pareto_front = grid.get_pareto_front()
    elif metric is not None and mode is not None:
        report.best_config, report.best_value = _best(
            [(r.config, r.metrics) for r in grid], metric, mode
        )
        report.recorded_best_config, report.recorded_best_value = _best(
            [(config, results[-1]) for config, results in rows], metric, mode
        )
    return report


class RecordedCurve(Sequence[dict[str, Any]]):
    """A trial's recorded results, each parsed from its ``result.json`` line when first read:
    a replay under an early-stopping scheduler reads only the few it plays back."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._parsed: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._lines)
        result = self._parsed.get(index)
        if result is None:
            result = self._parsed[index] = json.loads(self._lines[index])
        return result


def _read_curve(trial: TrialRecord) -> Sequence[dict[str, Any]]:
    """A trial's results, parsed lazily; a file whose last line is torn (a crash while it
    was written) or that holds a line that is no object is read by the careful reader."""
    try:
        with open(os.path.join(trial.path, RESULT_FILE), encoding="utf-8") as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        curve = RecordedCurve(lines)
        if not lines or isinstance(curve[-1], dict):
            return curve
    except (OSError, ValueError):
        pass
    return trial.load_results()


def _trial_seconds(results: Sequence[dict[str, Any]]) -> float:
    """The compute a recorded trial took: its last ``time_total_s`` (1 s a result without)."""
    if not results:
        return 0.0
    value = results[-1].get("time_total_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return float(len(results))


def _best(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]], metric: str, mode: str
) -> tuple[dict[str, Any] | None, float | None]:
    best: tuple[dict[str, Any] | None, float | None] = (None, None)
    for config, result in pairs:
        value = result.get(metric) if result else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if math.isnan(value):
            continue
        current = best[1]
        if current is None or (value < current if mode == "min" else value > current):
            best = (config, float(value))
    return best
