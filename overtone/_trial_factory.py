"""Trial creation and naming: a searcher's suggestion becomes a :class:`Trial`.

The factory merges a suggestion into the search space (a searcher suggests only what it
searches), resolves what is left, names the trial (id, name, experiment tag, folder) and
sizes its resources.
"""

from __future__ import annotations

import os
import re
from typing import Any

from overtone._checkpoints import latest_checkpoint
from overtone._experiment import ExperimentSpec, log_files
from overtone._trial import Resources
from overtone._trial_state import Trial
from overtone.runtime._session import TrialInfo
from overtone.search import Searcher
from overtone.space._variants import (
    LazyGenerator,
    format_vars,
    generate_variants,
    unresolved_paths,
)


class TrialFactory:
    """Makes the trials of one experiment, numbered from ``count``, ids prefixed ``prefix``.

    Args:
        spec: the experiment.
        prefix: the trial-id prefix (a restored experiment keeps its own); None draws one.
        count: how many trials were made before (a restored experiment continues the count).
    """

    def __init__(self, spec: ExperimentSpec, prefix: str | None = None, count: int = 0) -> None:
        self.spec = spec
        self.prefix = prefix if prefix is not None else os.urandom(3).hex()[:5]
        self.count = count
        self.exhausted = False  # the searcher is finished, or num_samples trials were made
        self._rng = LazyGenerator(None if spec.seed is None else [spec.seed, 1])

    def trial_id(self, index: int) -> str:
        """The id of the trial numbered ``index``."""
        return f"{self.prefix}_{index:05d}"

    def create(self) -> Trial | None:
        """The next trial, or None when the searcher has nothing now (or ever: ``exhausted``)."""
        spec = self.spec
        searcher = spec.searcher
        if not searcher.controls_trial_count and self.count >= spec.num_samples:
            self.exhausted = True
            return None
        trial_id = self.trial_id(self.count)
        config = searcher.suggest(trial_id)
        if config is None:
            return None
        if isinstance(config, str) and config == Searcher.FINISHED:
            self.exhausted = True
            return None
        index = self.count
        self.count += 1
        resolved = getattr(searcher, "last_resolved_vars", None)
        if callable(resolved):
            tag_vars = format_vars(resolved(trial_id))
        else:  # a searcher suggests only what it searches: the space gives the rest
            tag_vars = format_vars(leaf_paths(config))
            config = merge_suggestion(spec.param_space, config)
            if unresolved_paths(config):
                config = next(generate_variants(config, self._rng))[1]
        tag = f"{index}_{tag_vars}" if tag_vars else str(index)
        resources = spec.resources
        if not isinstance(resources, Resources):
            resources = Resources.coerce(resources(config))
            check_fits(resources, spec.executor.total_resources())
        trial = Trial(
            trial_id,
            f"{spec.trainable_name}_{trial_id}",
            "",
            spec.experiment_path,
            config,
            resources,
            tag,
            spec.trainable_name,
        )
        if spec.trial_name_creator is not None:
            trial.trial_name = str(spec.trial_name_creator(trial.snapshot()))
        if spec.trial_dirname_creator is not None:
            dirname = str(spec.trial_dirname_creator(trial.snapshot()))
        else:
            dirname = f"{spec.trainable_name}_{trial_id}_{tag}"
        trial.dirname = safe_dirname(dirname)
        trial.path = os.path.join(spec.experiment_path, trial.dirname)
        return trial


def trial_info(
    spec: ExperimentSpec, trial: Trial, *, sync: bool, files: tuple[str, ...], spare_dirs: bool
) -> TrialInfo:
    """What the worker is told to run ``trial`` (its next run)."""
    return TrialInfo(
        trial_id=trial.trial_id,
        trial_name=trial.trial_name,
        trial_dir=trial.path,
        experiment_name=spec.name,
        experiment_path=spec.experiment_path,
        config=trial.config,
        resources=trial.resources.to_dict(),
        restore_checkpoint=latest_checkpoint(trial),
        start_iteration=trial.start_iteration,
        start_time_total=trial.start_time_total,
        checkpoint_frequency=spec.checkpoint_frequency,
        log_files=log_files(spec.log_to_file, trial.path),
        reuse=spec.reuse_actors,
        sync=sync,
        checkpoint_at_end=bool(spec.checkpoint_config.checkpoint_at_end),
        write_params=True,  # the state file holds the config too
        files=files,
        spare_dirs=spare_dirs,
    )


def merge_suggestion(space: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
    """The space with the searcher's values laid over it (nested dicts merge)."""
    merged = dict(space)
    for key, value in suggestion.items():
        base = merged.get(key)
        if isinstance(value, dict) and isinstance(base, dict) and "grid_search" not in base:
            merged[key] = merge_suggestion(base, value)
        else:
            merged[key] = value
    return merged


def leaf_paths(config: dict[str, Any], prefix: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    out: dict[tuple[Any, ...], Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(leaf_paths(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def check_fits(resources: Resources, total: Resources) -> None:
    problems = []
    if resources.cpu > total.cpu:
        problems.append(f"{resources.cpu:g} CPUs of {total.cpu:g}")
    if resources.gpu > total.gpu:
        problems.append(f"{resources.gpu:g} GPUs of {total.gpu:g}")
    for key, value in resources.custom.items():
        if value > total.custom.get(key, 0.0):
            problems.append(f"{value:g} {key!r} of {total.custom.get(key, 0.0):g}")
    if problems:
        raise ValueError(
            f"a trial asks for {resources.to_dict()}, more than the executor has in all ("
            + ", ".join(problems)
            + "): lower resources_per_trial or add resources"
        )


_UNSAFE = re.compile(r"[^\w\-=.,+]")  # \w: what str.isalnum() accepts, and "_"


def safe_dirname(name: str) -> str:
    """``name`` as a folder name: anything but letters, digits and ``-_=.,+`` becomes ``_``."""
    cleaned = _UNSAFE.sub("_", name)
    return cleaned[:140] or "trial"
