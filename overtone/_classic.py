"""Ray's classic experiment objects: trainables registered by name, ``Experiment`` and
``run_experiments``.

``tune.register_trainable("my_trainable", train)`` lets ``tune.run("my_trainable")`` and
``tune.Tuner("my_trainable")`` name it; the registry lives in the driver (the trainable itself
is sent to the workers). An ``Experiment`` holds the settings of one ``tune.run``.
The facade re-exports these as ``overtone.tune.registry`` and ``overtone.tune.experiment``.
"""

from __future__ import annotations

import inspect
from typing import Any

_trainables: dict[str, Any] = {}


def register_trainable(name: str, trainable: Any, warn: bool = True) -> None:
    """Register ``trainable`` (a function or ``tune.Trainable`` class) under ``name``."""
    from overtone.runtime import Trainable

    if not isinstance(name, str) or not name:
        raise ValueError(f"name is {name!r}, but must be a non-empty string")
    if inspect.isclass(trainable):
        if not issubclass(trainable, Trainable):
            raise TypeError(f"trainable {trainable.__name__} is not a tune.Trainable subclass")
    elif not callable(trainable):
        raise TypeError(f"trainable is {trainable!r}, but must be a function or tune.Trainable")
    _trainables[name] = trainable


def get_trainable(name: str) -> Any:
    """The trainable registered under ``name``."""
    try:
        return _trainables[name]
    except KeyError:
        known = sorted(_trainables) or "none"
        raise ValueError(
            f"trainable is the string {name!r}, but no trainable was registered under that "
            f"name with tune.register_trainable() (registered: {known})"
        ) from None


# Ray's Experiment keywords, which tune.run takes under the same names.
_SETTINGS = (
    "stop", "time_budget_s", "config", "resources_per_trial", "num_samples", "storage_path",
    "storage_filesystem", "sync_config", "checkpoint_config", "trial_name_creator",
    "trial_dirname_creator", "log_to_file", "max_failures", "local_dir", "checkpoint_freq",
    "checkpoint_at_end", "keep_checkpoints_num", "checkpoint_score_attr", "export_formats",
    "restore",
)  # fmt: skip


class Experiment:
    """The settings of one experiment, for ``tune.run`` or ``tune.run_experiments``.

    Example::

        exp = tune.Experiment("my_exp", train, config={"lr": tune.uniform(0, 1)},
                              num_samples=4, stop={"training_iteration": 10})
        analysis = tune.run(exp)
    """

    def __init__(self, name: str, run: Any, **settings: Any) -> None:
        unknown = sorted(set(settings) - set(_SETTINGS))
        if unknown:
            raise TypeError(
                f"Experiment got {unknown}, but takes only name, run and {list(_SETTINGS)}"
            )
        self.name = name
        self.spec: dict[str, Any] = {"run": run, "name": name, **settings}

    @classmethod
    def from_json(cls, name: str, spec: dict[str, Any]) -> Experiment:
        """An Experiment from a dict such as ``{"run": train, "config": {...}}``."""
        if "run" not in spec:
            raise ValueError(f"the spec of experiment {name!r} has no 'run' (the trainable)")
        settings = {k: v for k, v in spec.items() if k != "run"}
        return cls(name, spec["run"], **settings)

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r})"


def _as_experiments(experiments: Any) -> list[Experiment]:
    if isinstance(experiments, Experiment):
        return [experiments]
    if isinstance(experiments, dict):
        return [Experiment.from_json(name, spec) for name, spec in experiments.items()]
    if isinstance(experiments, (list, tuple)) and all(
        isinstance(e, Experiment) for e in experiments
    ):
        return list(experiments)
    raise TypeError(
        f"experiments is {experiments!r}, but must be a tune.Experiment, a list of them or a "
        "dict of experiment names to specs"
    )


def run_experiments(
    experiments: Any,
    scheduler: Any = None,
    verbose: Any = 2,
    progress_reporter: Any = None,
    resume: Any = False,
    resume_config: Any = None,
    reuse_actors: bool | None = None,
    raise_on_failed_trial: bool = True,
    concurrent: bool = True,
    callbacks: list[Any] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Run one or more experiments and return all their trials.

    Experiments run one after the other (Ray may interleave them with ``concurrent=True``;
    the trials and results are the same). Each uses ``scheduler`` as it is: a stateful
    scheduler shared by several experiments sees them in turn.
    """
    from overtone._run import run

    trials: list[Any] = []
    for experiment in _as_experiments(experiments):
        analysis = run(
            experiment,
            scheduler=scheduler,
            verbose=verbose,
            progress_reporter=progress_reporter,
            resume=resume,
            resume_config=resume_config,
            reuse_actors=reuse_actors,
            raise_on_failed_trial=raise_on_failed_trial,
            callbacks=callbacks,
            **kwargs,
        )
        trials.extend(analysis.trials)
    return trials
