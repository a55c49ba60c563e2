"""``tune.run``'s keywords that Overtone does not take as they are: the Ray 2.x ones it
refuses, each with what to use instead, and Ray's ``ResumeConfig`` turned into a ``resume=``
string."""

from __future__ import annotations

from typing import Any

# tune.run keywords of Ray 2.x that Overtone refuses, each with what to use instead.
REFUSED = {
    "export_formats": "save the model in a checkpoint (tune.report(..., checkpoint=...) or "
    "Trainable.save_checkpoint)",
    "restore": "restore an experiment with resume=... or tune.Tuner.restore(path); to start "
    "trials from a checkpoint, pass its path in the config",
    "server_port": "nothing: Overtone has no TuneServer; stop trials with a Stopper",
    "chdir_to_trial_dir": "paths from tune.get_context().get_trial_dir() (the working "
    "directory is never changed: only chdir_to_trial_dir=False is accepted)",
    "sync_to_cloud": "storage_path='s3://...' with sync_config=tune.SyncConfig(...)",
    "sync_to_driver": "storage_path='s3://...' with sync_config=tune.SyncConfig(...)",
    "sync_on_checkpoint": "sync_config=tune.SyncConfig(sync_artifacts_on_checkpoint=...)",
    "upload_dir": "storage_path='s3://...'",
    "loggers": "callbacks=[...] with tune.logger's LoggerCallback classes",
    "queue_trials": "nothing: trials wait for free resources anyway",
    "global_checkpoint_period": "nothing: the experiment state is saved as it changes",
    "ray_auto_init": "nothing: Overtone needs no ray.init()",
    "run_errored_only": "resume='ERRORED_ONLY'",
    "keep_checkpoints_num_per_trial": "checkpoint_config=tune.CheckpointConfig(num_to_keep=...)",
    "trial_executor": "executor= (an Overtone executor, e.g. 'local' or 'dask://host:8786')",
    "_remote": "nothing: tune.run always runs on this driver (omit _remote)",
}


def refuse(kwargs: dict[str, Any]) -> None:
    """Refuse the keywords left over from ``tune.run``'s: the known ones naming what to use
    instead, the unknown ones as Python would."""
    for key, value in kwargs.items():
        if key in ("_remote", "chdir_to_trial_dir") and not value:
            continue  # False/None asks for what happens anyway
        if key in REFUSED:
            raise ValueError(
                f"tune.run() got {key}={value!r}, which Overtone does not support; "
                f"use {REFUSED[key]} instead"
            )
        raise TypeError(f"tune.run() got an unexpected keyword argument {key!r}")


def resume_from_config(resume_config: Any) -> str:
    """Ray's ``ResumeConfig`` (or a dict of its fields) as a ``resume=`` string."""
    from overtone.config import ResumeConfig, ResumeType

    if isinstance(resume_config, dict):
        resume_config = ResumeConfig(**resume_config)
    if not isinstance(resume_config, ResumeConfig):
        raise TypeError(f"resume_config is {resume_config!r}, but must be a tune.ResumeConfig")
    unfinished, errored = resume_config.unfinished, resume_config.errored
    if unfinished is ResumeType.SKIP and errored is ResumeType.SKIP:
        raise ValueError("resume_config skips unfinished and errored trials: nothing to resume")
    suffix = {"RESUME": "+ERRORED", "RESTART": "+RESTART_ERRORED", "SKIP": ""}[errored.value]
    if unfinished is ResumeType.SKIP:
        suffix += "_ONLY"
    return "AUTO" + suffix
