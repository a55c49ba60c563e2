"""Turns either API generation's arguments into one experiment and runs it.

Start-up is on the quick start's path: this module imports only what it takes to start the
executor's workers (the trainable, pickled, and the executor); :func:`execute` imports the
controller and the rest once the workers are starting, so that their start overlaps with
the driver's imports (see ``_start_executor``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

import cloudpickle

from overtone._errors import TrialFailedError
from overtone._run_args import refuse, resume_from_config
from overtone._trial import Resources
from overtone.config import (
    DEFAULT_STORAGE_PATH,
    CheckpointConfig,
    FailureConfig,
    RunConfig,
    SyncConfig,
    TuneConfig,
    check_experiment_name,
    verbosity,
)
from overtone.executors import Executor, make_executor
from overtone.runtime._trainable import Trainable
from overtone.runtime._wrappers import RESOURCES_ATTR, coerce_resources
from overtone.space._variants import unresolved_paths, validate_space
from overtone.storage._uri import is_remote, staging_dir

if TYPE_CHECKING:
    from overtone._state import ResumeMode
    from overtone.schedulers import TrialScheduler
    from overtone.search import Searcher


def trainable_name(trainable: Any) -> str:
    name = getattr(trainable, "__name__", None) or type(trainable).__name__
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_") or "trainable"


def resolve_trainable(trainable: Any) -> Any:
    """The trainable itself: a name given to ``tune.register_trainable`` is looked up."""
    if isinstance(trainable, str):
        from overtone._classic import get_trainable

        return get_trainable(trainable)
    return trainable


def validate_trainable(trainable: Any) -> None:
    if isinstance(trainable, str):
        raise TypeError(
            f"trainable is the string {trainable!r}, which tune.register_trainable() did "
            "not register: pass the function or tune.Trainable class itself"
        )
    if isinstance(trainable, type):
        if not issubclass(trainable, Trainable):
            raise TypeError(
                f"trainable is the class {trainable.__name__}, which is not a subclass of "
                "tune.Trainable"
            )
    elif not callable(trainable):
        raise TypeError(f"trainable is {trainable!r}, but must be a function or tune.Trainable")


def pickle_trainable(trainable: Any) -> bytes:
    """Pickle the trainable once, now, so that an unpicklable one fails before any trial."""
    try:
        return cloudpickle.dumps(trainable)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same to the user
        raise TypeError(
            f"The trainable {trainable_name(trainable)} cannot be pickled to be sent to the "
            f"worker processes: {type(exc).__name__}: {exc}. It probably captures an object "
            "such as a lock, an open file, a socket or a database connection: create that "
            "inside the trainable, or pass data with tune.with_parameters()."
        ) from exc


def resolve_storage(storage_path: str | None, name: str) -> tuple[str, str | None]:
    """Where the experiment is written here, and the remote URI it is mirrored to, if any.

    A remote ``storage_path`` (``s3://bucket/prefix``, ``memory://``, ``gs://``) is written
    to a local staging folder and mirrored there by a background thread.
    """
    check_experiment_name(name)
    path = storage_path or os.environ.get("OVERTONE_STORAGE_PATH") or DEFAULT_STORAGE_PATH
    if is_remote(path):
        uri = f"{path.rstrip('/')}/{name}"
        return staging_dir(uri), uri
    path = path.removeprefix("file://")
    return os.path.join(os.path.abspath(os.path.expanduser(path)), name), None


def warm_start(searcher: Searcher, source: Any, metric: Any) -> int:
    """Feed an earlier experiment's trials (its folder, ``ExperimentAnalysis`` or
    ``ResultGrid``) to the searcher; say so when it learns nothing."""
    import logging

    from overtone.analysis import ExperimentAnalysis, ResultGrid

    if isinstance(source, (str, os.PathLike)):
        source = ExperimentAnalysis(os.path.expanduser(os.fspath(source)))
    elif isinstance(source, ResultGrid):
        source = ExperimentAnalysis(source.experiment_path)
    taken = searcher.add_evaluated_trials(source, metric)
    if taken == 0:
        logging.getLogger("overtone").warning(
            "warm_start: %s learned from none of the earlier trials (it does not learn "
            "from results, or none of them fits its space or reported %r)",
            type(searcher).__name__,
            metric,
        )
    return taken


_DEFAULT_LOG_INTERVAL_S = 30.0


def _expected_trials(searcher: Searcher, num_samples: int) -> int | None:
    """How many trials the experiment will make, when known (grid size x num_samples for
    the default searcher, num_samples for the others); None when unbounded or unknown."""
    if searcher.controls_trial_count:
        total = getattr(searcher, "total_samples", None)
        return total if isinstance(total, int) and total > 0 else None
    return num_samples if 0 < num_samples < sys.maxsize else None


def execute(
    trainable: Any,
    param_space: dict[str, Any] | None,
    tune_config: TuneConfig,
    run_config: RunConfig,
    *,
    resources: Any = None,
    default_verbose: int = 1,
    stream: Any = None,
    resume: ResumeMode | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> tuple[str, bool]:
    """Run an experiment to its end. Returns its path and whether it was interrupted."""
    trainable = resolve_trainable(trainable)
    validate_trainable(trainable)
    param_space = dict(param_space or {})
    validate_space(param_space)
    blob = pickle_trainable(trainable)
    name = trainable_name(trainable)

    executor = make_executor(run_config.executor)
    key = _start_executor(executor, name, blob)
    try:
        controller, lock = _prepare(
            executor,
            key,
            trainable,
            blob,
            name,
            param_space,
            tune_config,
            run_config,
            resources=resources,
            default_verbose=default_verbose,
            stream=stream,
            resume=resume,
            extra_files=extra_files,
        )
    except BaseException:
        executor.shutdown()  # one made from a URL holds a connection to its cluster
        raise
    try:
        controller.run()  # it shuts the executor down, whatever happens
    finally:
        controller.trials.close()
        lock.release()
    return controller.spec.experiment_path, controller._interrupted


def _start_executor(executor: Executor, name: str, blob: bytes) -> str:
    """Set the executor up now, before the controller is even imported: the local executor
    starts its worker processes here, and their start (the trainable unpickled; an
    interpreter each and its imports, where they are not forked) overlaps with the driver's
    own imports and set-up. Returns the key the trainable is loaded under."""
    key = f"{name}-{os.urandom(3).hex()}"
    executor.setup(key, blob)
    return key


def _prepare(
    executor: Executor,
    key: str,
    trainable: Any,
    blob: bytes,
    name: str,
    param_space: dict[str, Any],
    tune_config: TuneConfig,
    run_config: RunConfig,
    *,
    resources: Any,
    default_verbose: int,
    stream: Any,
    resume: ResumeMode | None,
    extra_files: dict[str, bytes] | None,
) -> tuple[Any, Any]:
    """The experiment's controller, ready to run, and the experiment's lock, held."""
    from overtone._controller import Controller
    from overtone._experiment import ExperimentSpec
    from overtone._state import can_restore, restore_experiment
    from overtone._trial_factory import check_fits
    from overtone.schedulers import FIFOScheduler, TrialScheduler
    from overtone.search import BasicVariantGenerator, Searcher
    from overtone.stopper import make_stopper
    from overtone.storage._layout import STATE_FILE
    from overtone.storage._lock import lock_experiment
    from overtone.storage._remote import RemoteSync

    if resources is None:
        resources = getattr(trainable, RESOURCES_ATTR, None)
    if resources is None and _overrides_resource_request(trainable):
        resources = trainable.default_resource_request
    resources = coerce_resources(resources)
    if resources is None or not callable(resources):
        resources = Resources.coerce(resources)
        check_fits(resources, executor.total_resources())

    searcher = tune_config.search_alg or BasicVariantGenerator()
    if not isinstance(searcher, Searcher):
        raise TypeError(f"search_alg is {searcher!r}, but must be a tune.search.Searcher")
    scheduler = tune_config.scheduler or FIFOScheduler()
    if not isinstance(scheduler, TrialScheduler):
        raise TypeError(f"scheduler is {scheduler!r}, but must be a tune.schedulers scheduler")
    metric, mode = tune_config.metric, tune_config.mode
    if isinstance(metric, list) and not getattr(scheduler, "supports_multi_objective", False):
        raise ValueError(
            f"metric is the list {metric!r}, but {type(scheduler).__name__} ranks trials by "
            "one metric: use ASHAScheduler, HyperBandScheduler or FIFOScheduler for several"
        )
    accepted = searcher.set_search_properties(
        metric, mode, param_space, num_samples=tune_config.num_samples, seed=tune_config.seed
    )
    if tune_config.warm_start is not None:
        warm_start(searcher, tune_config.warm_start, metric)
    searched = unresolved_paths(param_space) if accepted is False else []
    if searched:  # refused, and the experiment's space does search something
        names = ", ".join("/".join(map(str, p)) for p in searched[:3])
        raise ValueError(
            f"{type(searcher).__name__} refused the experiment's search space: it has one "
            "of its own, so the config/param_space passed to tune must not hold search "
            f"domains too (it has {names}); give the space in one place"
        )

    experiment_name = run_config.name or f"{name}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    experiment_path, remote_uri = resolve_storage(run_config.storage_path, experiment_name)
    if (
        scheduler.set_search_properties(
            metric,
            mode,
            experiment_path=experiment_path,
            seed=tune_config.seed,
            total_resources=executor.total_resources(),
        )
        is False
    ):
        raise ValueError(
            f"{type(scheduler).__name__} refused metric={metric!r} and mode={mode!r} from "
            "the experiment: it was made with a metric and mode of its own; give them to "
            "the scheduler or to tune, not both"
        )
    verbose = verbosity(default_verbose if run_config.verbose is None else run_config.verbose)
    # The default output, like Ray's: in a log, a status block every 30 s at most.
    log_interval_s = _DEFAULT_LOG_INTERVAL_S if run_config.verbose is None else None
    reporter = None
    if verbose > 0:  # none at verbose 0, even one given (as in Ray): nothing imported
        from overtone.progress import make_reporter

        reporter = make_reporter(
            verbose,
            stream=stream,
            reporter=run_config.progress_reporter,
            log_interval_s=log_interval_s,
        )
    stream = stream if stream is not None else sys.stdout
    if reporter is not None:
        single = not isinstance(metric, list)  # the table names one best trial, by one metric
        reporter.setup(
            total_samples=_expected_trials(searcher, tune_config.num_samples),
            metric=metric if single else None,
            mode=mode if single else None,
            experiment_path=experiment_path,
            param_space=param_space,
        )
    checkpoint_config = run_config.checkpoint_config or CheckpointConfig()
    if checkpoint_config.checkpoint_at_end and not isinstance(trainable, type):
        raise ValueError(
            "checkpoint_at_end is True, but a function trainable decides itself when to "
            "checkpoint: pass a checkpoint to tune.report() instead"
        )
    lock = lock_experiment(experiment_path, remote_uri, run_config.storage_filesystem)
    try:
        restored = None
        if resume is not None:
            if remote_uri is not None:  # the remote copy is the truth: start from it
                import shutil

                from overtone.storage._download import download

                shutil.rmtree(experiment_path, ignore_errors=True)
                try:
                    download(remote_uri, experiment_path, filesystem=run_config.storage_filesystem)
                except ValueError:
                    pass  # nothing there yet: resume="AUTO" starts afresh, the others say so
            if can_restore(experiment_path):
                restored = restore_experiment(experiment_path, resume)
            elif not resume.auto:
                raise ValueError(
                    f"resume is set, but {experiment_path} holds no experiment to resume "
                    f"(no {STATE_FILE}); pass the name of an earlier experiment, or resume='AUTO'"
                )
        os.makedirs(experiment_path, exist_ok=True)
        for filename, data in (extra_files or {}).items():
            with open(os.path.join(experiment_path, filename), "wb") as f:
                f.write(data)

        spec = ExperimentSpec(
            trainable_blob=blob,
            trainable_name=name,
            name=experiment_name,
            experiment_path=experiment_path,
            param_space=param_space,
            searcher=searcher,
            scheduler=scheduler,
            stopper=make_stopper(run_config.stop),
            executor=executor,
            resources=resources,
            metric=metric,
            mode=mode,
            num_samples=tune_config.num_samples,
            max_concurrent_trials=tune_config.max_concurrent_trials,
            time_budget_s=tune_config.time_budget_s,  # type: ignore[arg-type]
            failure_config=run_config.failure_config or FailureConfig(),
            checkpoint_frequency=checkpoint_config.checkpoint_frequency,
            checkpoint_config=checkpoint_config,
            log_to_file=run_config.log_to_file,
            reuse_actors=tune_config.reuse_actors,
            default_loggers=run_config.default_loggers,
            callbacks_fail_fast=run_config.callbacks_fail_fast,
            callbacks=_callbacks(run_config, experiment_path),
            reporter=reporter,
            verbose=verbose,
            seed=tune_config.seed,
            trial_name_creator=tune_config.trial_name_creator,
            trial_dirname_creator=tune_config.trial_dirname_creator,
            stream=stream,
            restored=restored,
            executor_key=key,
        )
        if remote_uri is not None:
            sync_kwargs = {}
            if run_config.sync_config is not None:
                sync_kwargs["interval_s"] = float(run_config.sync_config.sync_period)
            spec.remote = RemoteSync(
                experiment_path,
                remote_uri,
                filesystem=run_config.storage_filesystem,
                **sync_kwargs,
            ).start()
        return Controller(spec), lock
    except BaseException:
        lock.release()
        raise


def _overrides_resource_request(trainable: Any) -> bool:
    return (
        isinstance(trainable, type)
        and issubclass(trainable, Trainable)
        and "default_resource_request" in _own_attrs(trainable)
    )


def _own_attrs(cls: type) -> set[str]:
    """Attributes defined by ``cls`` or its bases below ``Trainable``."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is Trainable:
            break
        names.update(vars(klass))
    return names


def run(
    run_or_experiment: Any,
    *,
    name: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    stop: Any = None,
    time_budget_s: float | None = None,
    config: dict[str, Any] | None = None,
    resources_per_trial: Any = None,
    num_samples: int = 1,
    storage_path: str | None = None,
    local_dir: str | None = None,
    search_alg: Searcher | None = None,
    scheduler: TrialScheduler | None = None,
    checkpoint_config: CheckpointConfig | None = None,
    checkpoint_freq: int = 0,
    checkpoint_at_end: bool = False,
    keep_checkpoints_num: int | None = None,
    checkpoint_score_attr: str | None = None,
    verbose: int = 3,
    progress_reporter: Any = None,
    log_to_file: bool = False,
    trial_name_creator: Any = None,
    trial_dirname_creator: Any = None,
    max_failures: int = 0,
    fail_fast: bool = False,
    resume: bool | str | None = None,
    reuse_actors: bool | None = None,
    raise_on_failed_trial: bool = True,
    callbacks: list[Any] | None = None,
    max_concurrent_trials: int | None = None,
    seed: int | None = None,
    executor: Executor | str | Any = None,
    storage_filesystem: Any = None,
    sync_config: SyncConfig | None = None,
    resume_config: Any = None,
    **ray_only: Any,
) -> Any:
    """Run a hyperparameter sweep (the classic API) and return its ``ExperimentAnalysis``.

    Example::

        analysis = tune.run(train, config={"lr": tune.loguniform(1e-4, 1e-1)},
                            num_samples=10, metric="loss", mode="min")
        print(analysis.best_config)

    Every keyword of Ray 2.x's ``tune.run`` is either honoured or refused with an error that
    names what to use instead (``export_formats``, ``restore``, ``server_port``,
    ``chdir_to_trial_dir``, ...). ``search_alg`` and ``scheduler`` may be names, as for
    ``tune.create_searcher`` and ``tune.create_scheduler``; ``run_or_experiment`` may be a
    ``tune.Experiment`` or a name given to ``tune.register_trainable``.
    """
    args = dict(locals())
    refuse(ray_only)
    if _is_experiment(run_or_experiment):
        clash = sorted(_passed_locals(args) - {"name"})
        if clash:
            raise ValueError(
                f"tune.run() got a tune.Experiment and also {clash}: give these to the "
                "Experiment only"
            )
        import inspect

        spec = run_or_experiment.spec
        params = inspect.signature(run).parameters
        rest = {
            k: v
            for k, v in args.items()
            if k in params
            and k not in _EXPERIMENT_KEYS
            and k not in ("run_or_experiment", "ray_only")
        }
        rest.update({k: v for k, v in spec.items() if k != "run"})
        return run(spec["run"], **rest)
    if resume_config is not None:
        if resume not in (None, False):
            raise ValueError("tune.run() got both resume and resume_config: pass one")
        resume = resume_from_config(resume_config)
    if isinstance(search_alg, str):
        from overtone.search._factories import create_searcher

        search_alg = create_searcher(search_alg)
    if isinstance(scheduler, str):
        from overtone.schedulers import create_scheduler

        scheduler = create_scheduler(scheduler)
    resume_mode = None
    if resume not in (None, False):
        from overtone._state import parse_resume

        resume_mode = parse_resume(resume)
    if resume_mode is not None and name is None and not resume_mode.auto:
        raise ValueError(f"resume is {resume!r}, which needs name= of the experiment to resume")
    if checkpoint_config is None:
        score_order = "max"
        if checkpoint_score_attr is not None and checkpoint_score_attr.startswith("min-"):
            # Ray's spelling of "lower is better"
            checkpoint_score_attr, score_order = checkpoint_score_attr[4:], "min"
        checkpoint_config = CheckpointConfig(
            num_to_keep=keep_checkpoints_num,
            checkpoint_score_attribute=checkpoint_score_attr,
            checkpoint_score_order=score_order,
            checkpoint_frequency=checkpoint_freq,
            checkpoint_at_end=checkpoint_at_end,
        )
    tune_config = TuneConfig(
        metric=metric,
        mode=mode,
        search_alg=search_alg,
        scheduler=scheduler,
        num_samples=num_samples,
        max_concurrent_trials=max_concurrent_trials,
        time_budget_s=time_budget_s,
        reuse_actors=True if reuse_actors is None else reuse_actors,
        trial_name_creator=trial_name_creator,
        trial_dirname_creator=trial_dirname_creator,
        seed=seed,
    )
    run_config = RunConfig(
        name=name,
        storage_path=storage_path or local_dir,
        callbacks=callbacks,
        stop=stop,
        failure_config=FailureConfig(max_failures=max_failures, fail_fast=fail_fast),
        checkpoint_config=checkpoint_config,
        verbose=verbose,
        progress_reporter=progress_reporter,
        log_to_file=log_to_file,
        executor=executor,
        storage_filesystem=storage_filesystem,
        sync_config=sync_config,
    )
    path, _ = execute(
        run_or_experiment,
        config,
        tune_config,
        run_config,
        resources=resources_per_trial,
        default_verbose=verbose,
        resume=resume_mode,
    )
    from overtone.analysis import ExperimentAnalysis

    analysis = ExperimentAnalysis(path, default_metric=metric, default_mode=mode)
    failed = [t for t in analysis.trials if str(t.status) == "ERROR"]
    if failed and raise_on_failed_trial:
        names = [t.trial_name for t in failed]
        raise TrialFailedError(
            f"Trials did not complete: {names}. Their errors are in "
            + ", ".join(t.error_file or t.path for t in failed),
            names,
        )
    return analysis


# The Experiment's own settings, which run() refuses beside a tune.Experiment.
_EXPERIMENT_KEYS = (
    "name", "stop", "time_budget_s", "config", "resources_per_trial",
    "num_samples", "storage_path", "local_dir", "checkpoint_config", "checkpoint_freq",
    "checkpoint_at_end", "keep_checkpoints_num", "checkpoint_score_attr", "log_to_file",
    "trial_name_creator", "trial_dirname_creator", "max_failures", "storage_filesystem",
    "sync_config",
)  # fmt: skip


def _passed_locals(values: dict[str, Any]) -> set[str]:
    """The experiment settings given to run() with a value other than their default."""
    import inspect

    defaults = {
        name: p.default
        for name, p in inspect.signature(run).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    return {k for k in _EXPERIMENT_KEYS if k in values and values[k] != defaults.get(k)}


def _is_experiment(value: Any) -> bool:
    from overtone._classic import Experiment

    return isinstance(value, Experiment)


def _callbacks(run_config: RunConfig, experiment_path: str) -> list[Any]:
    """The run's callbacks; ``RunConfig(dashboard=...)`` adds the dashboard's, the one place
    where the loop reaches a room above it (imported only when asked for)."""
    if not run_config.dashboard:
        return list(run_config.callbacks or [])
    from overtone.dashboard._callback import with_dashboard

    return with_dashboard(run_config, experiment_path)
