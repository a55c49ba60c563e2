"""``overtone.tune.result``: the names of the fields a result carries, with Ray's values.

Overtone adds the automatic fields (``training_iteration``, ``time_total_s``, ``trial_id``...)
to every result, and a class trainable's result with ``should_checkpoint=True`` is checkpointed.
"""

# Reported by trainables and read by Tune.
DONE = "done"
SHOULD_CHECKPOINT = "should_checkpoint"
MEAN_ACCURACY = "mean_accuracy"
MEAN_LOSS = "mean_loss"
NEG_MEAN_LOSS = "neg_mean_loss"
EPISODE_REWARD_MEAN = "episode_reward_mean"
TIMESTEPS_THIS_ITER = "timesteps_this_iter"
TIMESTEPS_TOTAL = "timesteps_total"
EPISODES_THIS_ITER = "episodes_this_iter"
EPISODES_TOTAL = "episodes_total"

# Filled in automatically.
TRAINING_ITERATION = "training_iteration"
TIME_THIS_ITER_S = "time_this_iter_s"
TIME_TOTAL_S = "time_total_s"
TIME_SINCE_RESTORE = "time_since_restore"
ITERATIONS_SINCE_RESTORE = "iterations_since_restore"
TIMESTEPS_SINCE_RESTORE = "timesteps_since_restore"
TRIAL_ID = "trial_id"
EXPERIMENT_TAG = "experiment_tag"
NODE_IP = "node_ip"
PID = "pid"
HOSTNAME = "hostname"
TIMESTAMP = "timestamp"
DATE = "date"
CONFIG_PREFIX = "config"

# The metric name Tune uses when a function returns a bare number.
DEFAULT_METRIC = "_metric"

AUTO_RESULT_KEYS = (
    TRAINING_ITERATION,
    TIME_TOTAL_S,
    EPISODES_TOTAL,
    TIMESTEPS_TOTAL,
    NODE_IP,
    HOSTNAME,
    PID,
    TIME_THIS_ITER_S,
    TIMESTAMP,
    DATE,
    TIME_SINCE_RESTORE,
    TIMESTEPS_SINCE_RESTORE,
    ITERATIONS_SINCE_RESTORE,
    CONFIG_PREFIX,
)

# Files in a trial's folder.
EXPR_PARAM_FILE = "params.json"
EXPR_PROGRESS_FILE = "progress.csv"
EXPR_RESULT_FILE = "result.json"
EXPR_ERROR_FILE = "error.txt"

__all__ = [
    "AUTO_RESULT_KEYS",
    "CONFIG_PREFIX",
    "DATE",
    "DEFAULT_METRIC",
    "DONE",
    "EPISODES_THIS_ITER",
    "EPISODES_TOTAL",
    "EPISODE_REWARD_MEAN",
    "EXPERIMENT_TAG",
    "EXPR_ERROR_FILE",
    "EXPR_PARAM_FILE",
    "EXPR_PROGRESS_FILE",
    "EXPR_RESULT_FILE",
    "HOSTNAME",
    "ITERATIONS_SINCE_RESTORE",
    "MEAN_ACCURACY",
    "MEAN_LOSS",
    "NEG_MEAN_LOSS",
    "NODE_IP",
    "PID",
    "SHOULD_CHECKPOINT",
    "TIMESTAMP",
    "TIMESTEPS_SINCE_RESTORE",
    "TIMESTEPS_THIS_ITER",
    "TIMESTEPS_TOTAL",
    "TIME_SINCE_RESTORE",
    "TIME_THIS_ITER_S",
    "TIME_TOTAL_S",
    "TRAINING_ITERATION",
    "TRIAL_ID",
]
