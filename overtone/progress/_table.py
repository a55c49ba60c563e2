"""Pure text formatting for the progress output: cells, tables, per-trial lines, summaries.

Nothing here writes to a stream; :mod:`overtone.progress._reporter` does.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from overtone._checks import check_mode, is_number
from overtone._dicts import flatten, lookup
from overtone._trial import FrozenTrial, TrialStatus
from overtone.storage._layout import ERROR_FILE

#: Result keys the runtime adds by itself; never inferred as user metrics.
AUTO_RESULT_KEYS = frozenset(
    {
        "config", "date", "done", "episodes_this_iter", "episodes_total", "experiment_id",
        "experiment_tag", "hostname", "iterations_since_restore", "node_ip", "pid",
        "should_checkpoint", "checkpoint_dir_name", "time_since_restore", "time_this_iter_s",
        "time_total_s", "timestamp", "timesteps_since_restore", "timesteps_this_iter",
        "timesteps_total", "training_iteration", "trial_id", "warmup_time",
    }
)  # fmt: skip
_COUNT_ORDER = tuple(TrialStatus)  # PENDING, RUNNING, PAUSED, TERMINATED, ERROR

_BOX = {
    "top": ("╭", "┬", "╮"),
    "mid": ("├", "┼", "┤"),
    "bottom": ("╰", "┴", "╯"),
    "horizontal": "─",
    "vertical": "│",
}
_ASCII = {
    "top": ("+", "+", "+"),
    "mid": ("+", "+", "+"),
    "bottom": ("+", "+", "+"),
    "horizontal": "-",
    "vertical": "|",
}


def format_number(value: Any) -> str:
    """Integers in full, other reals to 5 significant digits (``0.012346``, ``1.2346e+06``)."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    if math.isnan(number):
        return "nan"
    return f"{number:.5g}"


def format_value(value: Any, max_length: int | None = None) -> str:
    """One table cell: numbers compact, ``None`` empty, long text cut to ``max_length``."""
    if value is None:
        return ""
    text = format_number(value) if is_number(value) else str(value)
    text = text.replace("\n", " ")
    return abbreviate(text, max_length)


def abbreviate(text: str, max_length: int | None, keep: str = "head") -> str:
    """Cut ``text`` to ``max_length`` characters with ``...``, keeping its head or its tail."""
    if max_length is None or len(text) <= max_length:
        return text
    if max_length <= 3:
        return text[:max_length]
    if keep == "tail":
        return "..." + text[len(text) - (max_length - 3) :]
    return text[: max_length - 3] + "..."


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[bool] | None = None,
    ascii_only: bool = False,
) -> list[str]:
    """Draw a boxed table and return its lines (without newlines).

    Args:
        headers: the column titles.
        rows: the already formatted cells, one sequence per row.
        numeric: per column, whether to right-align it (numbers); left-aligned otherwise.
        ascii_only: draw with ``+ - |`` instead of box-drawing characters.
    """
    chars = _ASCII if ascii_only else _BOX
    right = list(numeric) if numeric is not None else [False] * len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"a row has {len(row)} cells, but the table has {len(headers)}")
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]

    def rule(kind: str) -> str:
        left, cross, end = chars[kind]
        return left + cross.join(chars["horizontal"] * (w + 2) for w in widths) + end

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(w) if align_right else cell.ljust(w)
            for cell, w, align_right in zip(cells, widths, right)
        )
        bar = chars["vertical"]
        return bar + bar.join(f" {cell} " for cell in padded) + bar

    return [rule("top"), line(headers), rule("mid"), *(line(r) for r in rows), rule("bottom")]


def can_draw_boxes(encoding: str | None) -> bool:
    """Whether text in ``encoding`` can hold the box-drawing characters (None: Unicode)."""
    if encoding is None:
        return True
    try:
        "╭─┬╮│├┼┤╰┴╯".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def format_trial_result_line(
    trial: FrozenTrial, result: Mapping[str, Any], detailed: bool = False
) -> str:
    """``Trial <name> reported loss=0.5,training_iteration=3.`` for one result.

    Brief lines hold the user's metrics and the iteration; detailed ones every result key
    and the trial's parameters.
    """
    flat = flatten({k: v for k, v in result.items() if k != "config"})
    if detailed:
        items = list(flat.items())
    else:
        items = [(k, v) for k, v in flat.items() if k.split("/")[0] not in AUTO_RESULT_KEYS]
        if "training_iteration" in flat:
            items.append(("training_iteration", flat["training_iteration"]))
    body = ",".join(f"{key}={format_value(value)}" for key, value in items)
    suffix = f" with parameters={trial.config}" if detailed else ""
    return f"Trial {trial.trial_name} reported {body}{suffix}."


def format_trial_end_line(
    trial: FrozenTrial,
    running_time_s: float | None = None,
    errored: bool | None = None,
    now: datetime | None = None,
) -> str:
    """``Trial <name> completed after 10 iterations at <time>.`` (or ``errored``, with the
    error file), followed by the experiment's running time when given."""
    if errored is None:
        errored = status_of(trial) is TrialStatus.ERROR
    iterations = trial.last_result.get("training_iteration", 0)
    noun = "iteration" if iterations == 1 else "iterations"
    when = (now or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    verb = "errored" if errored else "completed"
    line = f"Trial {trial.trial_name} {verb} after {iterations} {noun} at {when}."
    if running_time_s is not None:
        line += f" Total running time: {format_duration(running_time_s)}"
    if errored:
        line += f"\nError file: {error_file(trial)}"
    return line


def final_summary(
    trials: Sequence[FrozenTrial],
    metric: str | None = None,
    mode: str | None = None,
    *,
    experiment_path: str | None = None,
    total_time_s: float | None = None,
    best_checkpoint: str | None = None,
    searched: Sequence[str] | None = None,
    top: int = 10,
    ascii_only: bool = False,
) -> str:
    """A block for the end of the experiment: trial counts, the best trial and its checkpoint,
    a table of the ``top`` trials by ``metric``, and where the results are.

    Args:
        searched: the config keys the experiment searched (see :func:`searched_keys`), shown
            as columns of the table of best trials; None shows the keys that differ.

    Example::

        print(final_summary(trials, "loss", "min", experiment_path="~/overtone_results/exp"))
    """
    check_mode(mode)
    lines = ["== Experiment finished =="]
    lines.append(f"Number of trials: {count_line(trials, None)}")
    if total_time_s is not None:
        lines.append(f"Total running time: {format_duration(total_time_s)}")
    best = best_trial(trials, metric, mode)
    if best is not None and metric is not None:
        value = format_value(lookup(best.last_result, metric))
        lines.append(f"Best trial: {best.trial_name} with {metric}={value} ({mode})")
        lines.append(f"Best config: {best.config}")
        if best_checkpoint:
            lines.append(f"Best checkpoint: {best_checkpoint}")
    errored = [t.trial_name for t in trials if status_of(t) is TrialStatus.ERROR]
    if errored:
        lines.append(f"Errored trials: {', '.join(errored)}")
    if experiment_path:
        lines.append(f"Results: {experiment_path}")
    if best is not None and metric is not None and len(trials) > 1:
        ranked = ranked_trials(trials, metric, mode)
        shown = ranked[:top]
        lines.append(f"Best {len(shown)} of {len(trials)} trials by {metric} ({mode}):")
        keys = parameter_keys(trials, searched)
        lines.extend(trials_table(shown, keys, [metric], ascii_only=ascii_only))
    return "\n".join(lines)


def ranked_trials(
    trials: Sequence[FrozenTrial], metric: str, mode: str | None
) -> list[FrozenTrial]:
    """The trials that reported ``metric``, best first (ties keep the trials' order)."""
    valued = [(metric_value(t, metric), i, t) for i, t in enumerate(trials)]
    sign = -1.0 if mode == "max" else 1.0
    ranked = sorted((sign * v, i, t) for v, i, t in valued if v is not None)
    return [t for _, _, t in ranked]


def trials_table(
    trials: Sequence[FrozenTrial],
    parameters: Sequence[str],
    metrics: Sequence[str],
    *,
    max_length: int = 20,
    ascii_only: bool = False,
) -> list[str]:
    """A boxed table of trials: name, status, the ``parameters`` (config keys), the
    ``metrics`` (result keys), the iteration and the trial's running time."""
    metrics = [m for m in metrics if m not in ("training_iteration", "time_total_s")]
    headers = ["Trial name", "status"]
    headers += [abbreviate(t, max_length, keep="tail") for t in column_titles(parameters)]
    headers += [abbreviate(m, max_length, keep="tail") for m in metrics]
    headers += ["iter", "total time (s)"]
    raw = []
    for trial in trials:
        config = flatten(trial.config)
        raw.append(
            [
                *(config.get(key, lookup(trial.config, key)) for key in parameters),
                *(lookup(trial.last_result, key) for key in metrics),
                trial.last_result.get("training_iteration"),
                trial.last_result.get("time_total_s"),
            ]
        )
    numeric = [False, False] + [
        all(row[i] is None or is_number(row[i]) for row in raw) for i in range(len(headers) - 2)
    ]
    rows = [
        [t.trial_name, str(t.status), *(format_value(c, max_length) for c in row)]
        for t, row in zip(trials, raw)
    ]
    return render_table(headers, rows, numeric, ascii_only=ascii_only)


def searched_keys(param_space: Mapping[str, Any] | None) -> list[str]:
    """The keys, joined by ``/``, of every searched entry of a param space: ``choice``,
    ``grid_search``, ``sample_from`` and the other domains, at any depth."""
    if not param_space:
        return []
    from overtone.space._variants import unresolved_paths

    return ["/".join(map(str, path)) for path in unresolved_paths(dict(param_space))]


def parameter_keys(trials: Sequence[FrozenTrial], searched: Sequence[str] | None) -> list[str]:
    """The config keys to show as columns, in the configs' order.

    Every key under a ``searched`` one (and every key that holds one, as a list holds its
    items) is shown; so is every key whose value differs between trials. With ``searched``
    None or empty and a single trial, every key is shown.
    """
    flat = [flatten(t.config) for t in trials]
    keys = list(dict.fromkeys(key for config in flat for key in config))
    if len(flat) > 1:
        differing = {k for k in keys if len({repr(c.get(k)) for c in flat}) > 1}
    else:
        differing = set() if searched else set(keys)
    wanted = tuple(searched or ())

    def is_searched(key: str) -> bool:
        return any(key == s or key.startswith(s + "/") or s.startswith(key + "/") for s in wanted)

    return [k for k in keys if k in differing or is_searched(k)]


def column_titles(keys: Sequence[str], max_length: int = 20) -> list[str]:
    """Titles for nested config keys: the key itself when it is short, else its shortest
    ending (``model/optimizer/lr`` -> ``optimizer/lr``) that no other key shares."""
    titles = []
    for key in keys:
        if len(key) <= max_length:
            titles.append(key)
            continue
        parts = key.split("/")
        title = key
        for n in range(1, len(parts)):
            tail = "/".join(parts[-n:])
            if not any(
                other != key and (other == tail or other.endswith("/" + tail)) for other in keys
            ):
                title = tail
                break
        titles.append(title)
    return titles


def progress_bar(
    done: int,
    total: int | None,
    elapsed_s: float,
    best: str | None = None,
    *,
    width: int = 24,
    ascii_only: bool = False,
) -> str:
    """``[███████░░░░░] 5/12 trials done | elapsed 0:00:12 | ETA 0:00:17 | best loss=0.12``.

    The ETA assumes the trials still to finish take as long, on average, as those done.
    """
    full, empty = ("#", "-") if ascii_only else ("█", "░")
    if total:
        fraction = min(1.0, done / total)
        filled = int(round(fraction * width))
        parts = [f"[{full * filled}{empty * (width - filled)}] {done}/{total} trials done"]
    else:
        parts = [f"{done} trials done"]
    parts.append(f"elapsed {format_clock(elapsed_s)}")
    if total and 0 < done < total:
        parts.append(f"ETA {format_clock(elapsed_s / done * (total - done))}")
    elif total and done < total:
        parts.append("ETA ?")
    if best:
        parts.append(f"best {best}")
    return " | ".join(parts)


def format_clock(seconds: float) -> str:
    """``0:01:05``: hours, minutes and seconds."""
    total = int(round(max(0.0, seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def format_duration(seconds: float) -> str:
    """``0.6s``, ``42.0s``, ``3min 5s``, ``2hr 0min 7s``: tenths below a minute."""
    seconds = max(0.0, seconds)
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}hr {minutes}min {secs}s"
    if minutes:
        return f"{minutes}min {secs}s"
    return f"{secs}s"


def error_file(trial: FrozenTrial) -> str:
    """Where the trial's last traceback is saved (``<trial path>/error.txt``)."""
    if not trial.path:
        return ""
    if "://" in trial.path:
        return trial.path.rstrip("/") + "/" + ERROR_FILE
    return os.path.join(trial.path, ERROR_FILE)


def status_of(trial: FrozenTrial) -> TrialStatus:
    return TrialStatus(trial.status)


def status_counts(trials: Sequence[FrozenTrial], extra_pending: int = 0) -> str:
    counts = {status: 0 for status in _COUNT_ORDER}
    counts[TrialStatus.PENDING] += extra_pending
    for trial in trials:
        counts[status_of(trial)] += 1
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def known_total(total_samples: int | float | None) -> int | None:
    """The number of trials the experiment will make, None when unknown or unbounded."""
    if total_samples is None or total_samples <= 0 or total_samples >= sys.maxsize:
        return None
    return int(total_samples)


def not_created(trials: Sequence[FrozenTrial], total_samples: int | float | None) -> int:
    """Trials still to be made: the searcher has not suggested them yet."""
    total = known_total(total_samples)
    return max(0, total - len(trials)) if total is not None else 0


def count_line(trials: Sequence[FrozenTrial], total_samples: int | float | None) -> str:
    """``3/12 (9 PENDING, 2 RUNNING, 1 TERMINATED)``: made so far of the total, by status;
    the trials not made yet count as PENDING."""
    if total_samples is not None and total_samples >= sys.maxsize:
        total = "/infinite"
    elif known_total(total_samples) is not None:
        total = f"/{known_total(total_samples)}"
    else:
        total = ""
    counts = status_counts(trials, extra_pending=not_created(trials, total_samples))
    return f"{len(trials)}{total}" + (f" ({counts})" if counts else "")


def metric_value(trial: FrozenTrial, metric: str | None) -> float | None:
    if metric is None:
        return None
    value = lookup(trial.last_result, metric)
    if not is_number(value) or math.isnan(float(value)):
        return None
    return float(value)


def best_trial(
    trials: Sequence[FrozenTrial], metric: str | None, mode: str | None
) -> FrozenTrial | None:
    """The trial whose last result is best for ``metric``; None without metric and mode."""
    if metric is None or mode is None:
        return None
    best, best_value = None, None
    for trial in trials:
        value = metric_value(trial, metric)
        if value is None:
            continue
        if best_value is None or (value > best_value if mode == "max" else value < best_value):
            best, best_value = trial, value
    return best
