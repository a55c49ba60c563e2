"""The experiment directory's layout: every file and folder name, in one place.

```
<storage_path>/<experiment name>/
    experiment_state.json        STATE_FILE: the controller's state (trials, statuses ...)
    experiment_state.updates.jsonl  STATE_UPDATES_FILE: trial entries changed since it
    search_state.pkl             SEARCH_STATE_FILE: the searcher's and scheduler's state
    tuner.pkl                    TUNER_FILE: the Tuner's settings, for Tuner.restore
    .overtone-lock               LOCK_FILE: flocked while a run holds the folder
                                 (.overtone-lock.json, REMOTE_LOCK_FILE, on a remote store)
    pbt_global.txt               PBT_GLOBAL_FILE: every exploit of PopulationBasedTraining
    pbt_policy_<trial id>.txt    pbt_policy_name(trial_id): one trial's lineage
    .overtone_sync.json          MANIFEST: what a remote mirror knows to be uploaded
    .spare-<pid>/                SPARE_PREFIX: a trial folder a worker made ahead
    <trial name>/
        params.json              PARAMS_FILE (and params.pkl, PARAMS_PICKLE_FILE)
        result.json              RESULT_FILE: one JSON line per reported result
        progress.csv             PROGRESS_FILE: the same results as a table
        events.out.tfevents.*    EVENTS_PREFIX: TensorBoard event files
        error.txt                ERROR_FILE: the traceback of the last failure
        checkpoint_000003/       checkpoint_name(3): one folder per kept checkpoint
            dict_checkpoint.pkl  DICT_CHECKPOINT_FILE: a class trainable's dict checkpoint
        .save-*/                 SAVE_PREFIX: a checkpoint being written
```

Names only: nothing here touches a file, so every layer may import it.
"""

from __future__ import annotations

import re

STATE_FILE = "experiment_state.json"
#: The version of the state file's format; a loader refuses any other.
FORMAT_VERSION = 1
#: Trial entries written after the state file, one JSON line each (``storage._state``).
STATE_UPDATES_FILE = "experiment_state.updates.jsonl"
SEARCH_STATE_FILE = "search_state.pkl"
TUNER_FILE = "tuner.pkl"
#: The run's lock (``storage._lock``): flocked locally, a heartbeat object on a remote store.
LOCK_FILE = ".overtone-lock"
REMOTE_LOCK_FILE = ".overtone-lock.json"
PBT_GLOBAL_FILE = "pbt_global.txt"
#: What a remote mirror uploaded from (or downloaded to) a local folder (``storage._remote``).
MANIFEST = ".overtone_sync.json"
#: A worker's trial folder made ahead, in the experiment's folder (``runtime._runner``).
SPARE_PREFIX = ".spare-"
#: In a spare: the empty file renamed to the trial's event file when the spare is used.
SPARE_EVENTS_PLACEHOLDER = "events.spare"

PARAMS_FILE = "params.json"
PARAMS_PICKLE_FILE = "params.pkl"
RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.csv"
ERROR_FILE = "error.txt"
EVENTS_PREFIX = "events.out.tfevents."
#: In a checkpoint folder: the dict a class trainable's ``save_checkpoint`` returned, pickled.
DICT_CHECKPOINT_FILE = "dict_checkpoint.pkl"
#: A checkpoint folder being written in a trial's folder, renamed into place when complete.
SAVE_PREFIX = ".save-"

_CHECKPOINT = re.compile(r"checkpoint_(\d{6,})")


def checkpoint_name(iteration: int) -> str:
    """The folder name of the checkpoint taken at ``iteration``: ``checkpoint_000003``."""
    return f"checkpoint_{iteration:06d}"


def pbt_policy_name(trial_id: str) -> str:
    """The file name of a trial's PBT lineage: ``pbt_policy_<trial_id>.txt``."""
    return f"pbt_policy_{trial_id}.txt"


def checkpoint_iteration(name: str) -> int | None:
    """The iteration in a checkpoint folder's name (:func:`checkpoint_name`), else None."""
    match = _CHECKPOINT.fullmatch(name)
    return int(match.group(1)) if match else None


def is_checkpoint_name(name: str) -> bool:
    """Whether ``name`` is a checkpoint folder's name (:func:`checkpoint_name`)."""
    return _CHECKPOINT.fullmatch(name) is not None
