"""Issue 20's pieces one by one: searched parameters as columns, pending trials, sub-second
times, the progress bar, the summary's best trials and checkpoint, the notebook's HTML, and
the loop's cost when no report is due."""

from __future__ import annotations

import dataclasses
import io
import re
import sys
import types
from pathlib import Path

import pytest

from overtone import tune
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.progress import CLIReporter, JupyterNotebookReporter, final_summary, make_reporter
from overtone.progress._output import ExperimentOutput
from overtone.progress._table import (
    column_titles,
    format_duration,
    parameter_keys,
    progress_bar,
    searched_keys,
)


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LINES", "100")


SPACE = {
    "lr": tune.loguniform(1e-4, 1e-1),
    "layers": tune.choice([2, 3, 4]),
    "act": tune.grid_search(["relu", "tanh"]),
    "optimizer": {"momentum": tune.uniform(0.8, 0.99), "name": "sgd"},
    "width": tune.sample_from(lambda spec: 16 * spec.config["layers"]),
    "sizes": [tune.choice([8, 16]), 4],
    "epochs": 10,
}


def make_trial(index: int, status: str = "RUNNING", loss: float | None = None, **config):
    base = {
        "lr": 0.001 * (index + 1),
        "layers": 2,  # the choice drew the same value for every trial
        "act": "relu",
        "optimizer": {"momentum": 0.9, "name": "sgd"},
        "width": 32,
        "sizes": [8, 4],
        "epochs": 10,
    }
    base.update(config)
    result = {} if loss is None else {"loss": loss, "training_iteration": 3, "time_total_s": 0.6}
    return FrozenTrial(
        trial_id=f"id{index:05d}",
        trial_name=f"train_{index:05d}",
        config=base,
        status=TrialStatus(status),
        last_result=result,
        path=f"/nonexistent/exp/train_{index:05d}",
        resources=Resources(),
    )


def header(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if "Trial name" in line)
    return [cell.strip() for cell in re.split(r"[│|]", line)[1:-1]]


def test_searched_keys_cover_every_kind_of_domain() -> None:
    assert searched_keys(SPACE) == [
        "lr",
        "layers",
        "act",
        "optimizer/momentum",
        "width",
        "sizes/0",
    ]
    assert searched_keys(None) == [] and searched_keys({"a": 1}) == []


def test_every_searched_parameter_is_a_column_even_when_the_trials_agree() -> None:
    # The bug: a choice whose draws happened to agree had no column.
    trials = [make_trial(i) for i in range(3)]
    keys = parameter_keys(trials, searched_keys(SPACE))
    assert keys == ["lr", "layers", "act", "optimizer/momentum", "width", "sizes"]
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream)
    reporter.setup(param_space=SPACE, total_samples=12)
    reporter.report(trials, False)
    assert header(stream.getvalue())[3:] == keys
    # Without the space: the keys whose values differ, and all of them for a lone trial.
    assert parameter_keys(trials, None) == ["lr"]
    assert parameter_keys(trials[:1], None) == list(
        ["lr", "layers", "act", "optimizer/momentum", "optimizer/name", "width", "sizes"]
        + ["epochs"]
    )


def test_a_column_once_shown_stays() -> None:
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream)
    reporter.report([make_trial(0), make_trial(1, layers=3)], False)
    assert "layers" in header(stream.getvalue())
    stream.seek(0), stream.truncate()
    reporter.report([make_trial(0), make_trial(1, layers=3), make_trial(2)], False)
    assert "layers" in header(stream.getvalue())


def test_long_nested_titles_keep_their_distinct_ending() -> None:
    keys = ["model/encoder/hidden_size", "model/decoder/hidden_size", "model/optimizer/lr", "x"]
    assert column_titles(keys, max_length=20) == [
        "encoder/hidden_size",
        "decoder/hidden_size",
        "model/optimizer/lr",
        "x",
    ]
    assert column_titles(["optimizer/lr"], max_length=5) == ["lr"]


def test_pending_trials_are_counted_and_noted() -> None:
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream, total_samples=12)
    reporter.report([make_trial(0, "TERMINATED", 0.5), make_trial(1), make_trial(2, "PENDING")],
                    False)  # fmt: skip
    text = stream.getvalue()
    assert "Number of trials: 3/12 (10 PENDING, 1 RUNNING, 1 TERMINATED)" in text
    assert "... 9 more trials PENDING (not sampled yet)" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0.0s"), (0.6, "0.6s"), (0.04, "0.0s"), (42.26, "42.3s"), (59.97, "1min 0s"),
     (62, "1min 2s"), (3725, "1hr 2min 5s")],
)  # fmt: skip
def test_durations_below_a_minute_have_tenths(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_progress_bar() -> None:
    assert progress_bar(3, 12, 30.0, "loss=0.25", width=12) == (
        "[███░░░░░░░░░] 3/12 trials done | elapsed 0:00:30 | ETA 0:01:30 | best loss=0.25"
    )
    assert progress_bar(0, 4, 1.0, width=4, ascii_only=True) == (
        "[----] 0/4 trials done | elapsed 0:00:01 | ETA ?"
    )
    assert progress_bar(4, 4, 3725.0, width=4) == "[████] 4/4 trials done | elapsed 1:02:05"
    assert progress_bar(5, None, 61.0) == "5 trials done | elapsed 0:01:01"


def test_status_shows_the_progress_bar() -> None:
    clock = FakeClock()
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream, clock=clock, metric="loss", mode="min")
    reporter.setup(start_time=clock.now - 20, total_samples=4)
    reporter.report([make_trial(0, "TERMINATED", 0.5), make_trial(1, "RUNNING", 0.25)], False)
    assert (
        "] 1/4 trials done | elapsed 0:00:20 | ETA 0:01:00 | best loss=0.25\n" in stream.getvalue()
    )


def test_summary_lists_the_ten_best_trials_and_the_best_checkpoint() -> None:
    trials = [make_trial(i, "TERMINATED", loss=float(15 - i)) for i in range(15)]
    trials.append(make_trial(15, "ERROR"))
    text = final_summary(
        trials,
        "loss",
        "min",
        best_checkpoint="/exp/train_00014/checkpoint_000003",
        searched=searched_keys(SPACE),
    )
    assert "Best checkpoint: /exp/train_00014/checkpoint_000003" in text
    assert "Best 10 of 16 trials by loss (min):" in text
    rows = [line for line in text.splitlines() if line.startswith("│ train_")]
    assert [row.split("│")[1].strip() for row in rows] == [
        f"train_{i:05d}" for i in range(14, 4, -1)
    ]
    assert header(text) == ["Trial name", "status", "lr", "layers", "act",
                            "optimizer/momentum", "width", "sizes", "loss", "iter",
                            "total time (s)"]  # fmt: skip
    assert "trials by loss" not in final_summary(trials[:1], "loss", "min")  # one: no table


def test_summary_at_verbose_1_names_the_latest_checkpoint(tmp_path: Path) -> None:
    trials = [make_trial(i, "TERMINATED", loss=float(i)) for i in range(2)]
    best = trials[0]
    checkpoint = tmp_path / "checkpoint_000002"
    checkpoint.mkdir()
    stream = io.StringIO()
    output = ExperimentOutput(
        1, make_reporter(1, stream=stream), stream, lambda: trials, lambda: [],
        metric="loss", mode="min", param_space=SPACE,
    )  # fmt: skip
    output.on_checkpoint(1, trials, best, str(checkpoint))
    output.on_experiment_end(trials)
    text = stream.getvalue()
    assert text.startswith("== Experiment finished ==")
    assert f"Best checkpoint: {checkpoint}" in text
    assert "Best 2 of 2 trials by loss (min):" in text
    assert "== Status ==" not in text


def test_checkpoint_found_on_disk_when_none_was_announced(tmp_path: Path) -> None:
    folder = tmp_path / "train_00000"
    for name in ("checkpoint_000002", "checkpoint_000010", "checkpoint_000009"):
        (folder / name).mkdir(parents=True)
    best = make_trial(0, "TERMINATED", loss=0.1)
    best = dataclasses.replace(best, path=str(folder))
    stream = io.StringIO()
    output = ExperimentOutput(
        2, None, stream, lambda: [best], lambda: [], metric="loss", mode="min"
    )
    output.on_experiment_end([best])
    assert f"Best checkpoint: {folder / 'checkpoint_000010'}" in stream.getvalue()


def test_the_log_interval_of_the_default_output() -> None:
    clock = FakeClock()
    reporter = make_reporter(2, stream=io.StringIO(), log_interval_s=30.0)
    assert isinstance(reporter, CLIReporter)
    reporter._clock = clock
    answers = []
    for now in (100.0, 105.0, 129.9, 130.0, 131.0):
        clock.now = now
        answers.append(reporter.should_report([]))
    assert answers == [True, False, False, True, False]


def test_tick_takes_no_snapshots_until_a_report_is_due() -> None:
    clock = FakeClock()
    reporter = CLIReporter(stream=io.StringIO(), clock=clock, max_report_frequency=30)
    calls = []

    def snapshots() -> list[FrozenTrial]:
        calls.append(clock.now)
        return [make_trial(0)]

    output = ExperimentOutput(2, reporter, None, snapshots, lambda: [], interval_s=0.5,
                              clock=clock)  # fmt: skip
    for _ in range(100):
        output.tick()
        clock.now += 0.5
    assert len(calls) == 2  # at 100 s and at 130 s


def test_notebook_html_has_a_progress_bar_every_parameter_and_the_pending_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reporter = JupyterNotebookReporter(metric="loss", mode="min")
    reporter.setup(param_space=SPACE, total_samples=12)
    trials = [make_trial(0, "TERMINATED", 0.5), make_trial(1, "RUNNING", 0.25)]
    page = reporter.progress_html(trials)
    assert '<progress value="1" max="12"></progress> 1/12 trials done | elapsed ' in page
    assert "ETA " in page and "best loss=0.25" in page
    heads = re.findall(r"<th>(.*?)</th>", page)
    assert heads[3:9] == ["lr", "layers", "act", "optimizer/momentum", "width", "sizes"]
    assert "Number of trials: 2/12 (10 PENDING, 1 RUNNING, 1 TERMINATED)" in page
    assert "... 10 more trials PENDING (not sampled yet)" in page

    # report() shows the page once, then updates it in place.
    shown: list[str] = []

    class Handle:
        def update(self, content: object) -> None:
            shown.append("update:" + content.data)  # type: ignore[attr-defined]

    def display(content: object, display_id: bool = False) -> Handle:
        shown.append("display:" + content.data)  # type: ignore[attr-defined]
        return Handle()

    fake = types.ModuleType("IPython.display")
    fake.HTML = lambda data: types.SimpleNamespace(data=data)  # type: ignore[attr-defined]
    fake.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    reporter.report(trials, False)
    reporter.report(trials, True)
    assert [s.split(":")[0] for s in shown] == ["display", "update"]
    assert "<progress " in shown[1]


def test_first_status_as_soon_as_the_first_trial_starts() -> None:
    clock = FakeClock()
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream, clock=clock)
    trials = [make_trial(0)]
    output = ExperimentOutput(2, reporter, stream, lambda: trials, lambda: [], clock=clock)
    output.on_trial_start(1, trials, trials[0])
    assert stream.getvalue().count("== Status ==") == 1
    output.on_trial_start(1, trials, trials[0])  # later starts wait for the loop's tick
    assert stream.getvalue().count("== Status ==") == 1


def test_the_output_lets_workers_make_the_trial_folders() -> None:
    # The driver makes a trial's folder at launch only for callbacks that write there.
    assert ExperimentOutput._needs_trial_dir_at_start is False
