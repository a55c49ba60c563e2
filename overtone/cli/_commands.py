"""The commands ``ls``, ``show``, ``export`` and ``dashboard``."""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import operator
import os
import sys
from collections.abc import Callable
from typing import Any

from overtone.cli._store import PathRefused, Store
from overtone.cli._views import ExperimentView, finite, is_number, summarize
from overtone.storage._layout import STATE_FILE


def _storage(path: str | None) -> str:
    from overtone.cli._main import default_storage

    return path or default_storage()


def open_experiment(experiment: str, storage_path: str | None) -> ExperimentView:
    """The experiment named by a folder, a URI, or a name under ``storage_path``."""
    if "://" in experiment and not experiment.startswith("file://"):
        parent, _, name = experiment.rstrip("/").rpartition("/")
        if parent.endswith(":/") or not name:
            raise ValueError(f"experiment is {experiment!r}, but must be a URI with a folder")
        store = Store(parent)
    else:
        local = experiment.removeprefix("file://")
        candidate = os.path.abspath(os.path.expanduser(local))
        if os.path.basename(candidate) == STATE_FILE:
            candidate = os.path.dirname(candidate)
        if os.path.isfile(os.path.join(candidate, STATE_FILE)):
            store, name = Store(os.path.dirname(candidate)), os.path.basename(candidate)
        else:
            if os.sep in local.strip(os.sep):
                raise ValueError(
                    f"experiment is {experiment!r}, but that folder holds no {STATE_FILE}"
                )
            store, name = Store(_storage(storage_path)), local
    try:
        view = ExperimentView(store, name)
    except PathRefused as exc:
        raise ValueError(str(exc)) from None
    return view.refresh()


def _when(timestamp: Any) -> str:
    if not is_number(timestamp) or not timestamp:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def print_table(header: list[str], rows: list[list[Any]], out: Any = None) -> None:
    out = out or sys.stdout
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [len(h) for h in header]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    out.write("\n".join(lines) + "\n")


# -- ls ------------------------------------------------------------------------------------
def ls(args: argparse.Namespace) -> int:
    store = Store(_storage(args.storage_path))
    summaries = []
    for name in store.experiment_names():
        try:
            summaries.append(summarize(store, name))
        except (ValueError, FileNotFoundError) as exc:
            summaries.append({"name": name, "path": store.display(name), "error": str(exc)})
    if args.json:
        json.dump(summaries, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if not summaries:
        print(f"No experiments in {store.display()}")
        return 0
    rows = []
    for s in summaries:
        if "error" in s:
            rows.append([s["name"], "-", "unreadable: " + s["error"], "-", "-", "-", "-"])
            continue
        status = ", ".join(f"{n} {k.lower()}" for k, n in s["status"].items() if n)
        metric = f"{s['metric']}={_fmt(s['best'])}" if s["metric"] else "-"
        state = "running" if s["running"] else "finished"
        unfinished = any(s["status"].get(k) for k in ("RUNNING", "PENDING", "PAUSED"))
        if not s["running"] and unfinished:
            state = "stopped"
        rows.append(
            [
                s["name"],
                s["trials"],
                status or "-",
                metric,
                _when(s["started"]),
                _when(s["last_update"]),
                state,
            ]
        )
    print_table(["NAME", "TRIALS", "STATUS", "BEST", "STARTED", "UPDATED", "STATE"], rows)
    return 0


# -- show ----------------------------------------------------------------------------------
_OPS: list[tuple[str, Callable[[Any, Any], bool]]] = [
    ("!=", operator.ne),
    (">=", operator.ge),
    ("<=", operator.le),
    ("=", operator.eq),
    (">", operator.gt),
    ("<", operator.lt),
]


def parse_filter(text: str) -> tuple[str, str, Callable[[Any, Any], bool], str]:
    for symbol, op in _OPS:
        key, sep, value = text.partition(symbol)
        if sep and key.strip():
            return key.strip(), symbol, op, value.strip()
    raise ValueError(f"filter is {text!r}, but must look like COLUMN=VALUE (or !=, <, <=, >, >=)")


def _coerce(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def flat_rows(view: ExperimentView, metric: str | None, mode: str | None) -> list[dict[str, Any]]:
    """The trial table, one flat dict per trial (config keys as ``config/<key>``)."""
    rows = []
    for trial in view.trials.values():
        row = view.row(trial, metric, mode)
        flat = {k: v for k, v in row.items() if k != "config"}
        for key, value in row["config"].items():
            flat[f"config/{key}"] = value
        if metric:
            flat[f"last {metric}"] = flat.pop("last")
            flat[f"best {metric}"] = flat.pop("best")
        rows.append(flat)
    return rows


def _column(row: dict[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    return row.get(f"config/{name}")


def _matches(row: dict[str, Any], key: str, op: Callable[[Any, Any], bool], value: str) -> bool:
    actual = _column(row, key)
    wanted = _coerce(value)
    if op in (operator.eq, operator.ne) and not (is_number(actual) and is_number(wanted)):
        return op(str(actual) if actual is not None else "", value)
    try:
        return bool(op(actual, wanted))
    except TypeError:
        return False


def show(args: argparse.Namespace) -> int:
    view = open_experiment(args.experiment, args.storage_path)
    metric = args.metric or view.metric
    mode = args.mode or view.mode
    rows = flat_rows(view, metric, mode)
    columns = list(rows[0]) if rows else ["trial_name", "status"]
    for row in rows[1:]:
        columns += [k for k in row if k not in columns]
    for text in args.filter:
        key, _, op, value = parse_filter(text)
        if rows and not any(key in r or f"config/{key}" in r for r in rows):
            raise ValueError(f"filter names column {key!r}, but must name one of {columns}")
        rows = [r for r in rows if _matches(r, key, op, value)]
    if args.sort:
        key = args.sort.lstrip("-")
        reverse = args.sort.startswith("-")
        if rows and not any(key in r or f"config/{key}" in r for r in rows):
            raise ValueError(f"sort is {key!r}, but must be one of {columns}")
        present = [r for r in rows if _column(r, key) is not None]
        missing = [r for r in rows if _column(r, key) is None]
        present.sort(key=lambda r: _sort_key(_column(r, key)), reverse=reverse)
        rows = present + missing
    if args.columns:
        shown = [c.strip() for c in args.columns.split(",") if c.strip()]
        unknown = [c for c in shown if c not in columns and f"config/{c}" not in columns]
        if unknown:
            raise ValueError(f"columns {unknown} are unknown, but must be among {columns}")
    else:
        shown = [c for c in columns if c not in ("trial_id", "error", "num_failures")]
    if args.json:
        json.dump([{c: finite(_column(r, c)) for c in shown} for r in rows], sys.stdout)
        sys.stdout.write("\n")
    else:
        print_table(shown, [[_column(r, c) for c in shown] for r in rows])
    if args.errors:
        for row in rows:
            if not row.get("error"):
                continue
            trial = view.find(row["trial_id"])
            text = view.store.read_text(view.name, trial.dirname, _error_name(trial))
            print(f"\n--- {row['trial_name']} ({row['status']}) ---")
            print((text or "(no error file)").rstrip())
    return 0


def _error_name(trial: Any) -> str:
    return os.path.basename(str(trial.entry.get("error_file") or "error.txt"))


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if is_number(value) else (1, str(value))


# -- export --------------------------------------------------------------------------------
def export(args: argparse.Namespace) -> int:
    view = open_experiment(args.experiment, args.storage_path)
    rows: list[dict[str, Any]] = []
    for trial in view.trials.values():
        config = {f"config/{k}": v for k, v in view.row(trial, None, None)["config"].items()}
        head = {"trial_id": trial.trial_id, "status": trial.status, **config}
        if args.results:
            rows.extend({**head, **result} for result in view.results(trial.trial_id))
        else:
            rows.append({**head, **trial.result()})
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    output = os.path.expanduser(args.output)
    if args.format == "csv":
        with open(output, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns), restval="")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(v) for k, v in row.items()})
    elif args.format == "json":
        from overtone.storage._files import dumps

        with open(output, "w", encoding="utf-8") as f:
            f.write(dumps(rows))
            f.write("\n")
    else:
        try:
            import pandas as pd

            frame = pd.DataFrame.from_records(rows, columns=list(columns))
            for name in frame.columns:  # a column of mixed values cannot be typed by arrow
                if frame[name].dtype == object:
                    frame[name] = frame[name].map(_cell_or_none)
            frame.to_parquet(output, index=False)
        except ImportError as exc:
            raise ImportError(
                f"--format parquet needs pyarrow: pip install pyarrow ({exc})"
            ) from exc
    what = "results" if args.results else "trials"
    print(f"Wrote {len(rows)} {what} to {output}", file=sys.stderr)
    return 0


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _cell_or_none(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


# -- dashboard -----------------------------------------------------------------------------
def dashboard(args: argparse.Namespace) -> int:
    from overtone.dashboard import run_dashboard

    return run_dashboard(
        _storage(args.path),
        host=args.host,
        port=args.port,
        token=args.token,
        refresh_s=args.refresh,
    )
