"""Tests of the progress output: the status table, live redraws, per-trial lines, summary."""

from __future__ import annotations

import io
import re
from datetime import datetime

import numpy as np
import pytest

from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.progress import (
    CLIReporter,
    ProgressReporter,
    TrialProgressPrinter,
    final_summary,
    format_trial_end_line,
    format_trial_result_line,
    make_reporter,
)
from overtone.progress._table import format_value, render_table

ERASE = re.compile(r"\x1b\[(\d+)F\x1b\[J")


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class AsciiStream(io.StringIO):
    encoding = "ascii"


@pytest.fixture(autouse=True)
def terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # shutil.get_terminal_size reads these first: a fixed, large fake terminal.
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LINES", "100")


def trial(
    index: int,
    status: str = "RUNNING",
    config: dict | None = None,
    result: dict | None = None,
    num_failures: int = 0,
) -> FrozenTrial:
    return FrozenTrial(
        trial_id=f"id{index:05d}",
        trial_name=f"train_{index:05d}",
        config=config if config is not None else {"lr": 0.1 * (index + 1), "batch": 32},
        status=TrialStatus(status),
        last_result=result if result is not None else {},
        path=f"/exp/train_{index:05d}",
        resources=Resources(),
        num_failures=num_failures,
    )


def result(iteration: int, loss: float, **extra) -> dict:
    return {
        "training_iteration": iteration,
        "time_total_s": 1.5 * iteration,
        "loss": loss,
        "pid": 4000 + iteration,
        "timestamp": 1700000000,
        "hostname": "box",
        "done": False,
        **extra,
    }


def three_trials() -> list[FrozenTrial]:
    return [
        trial(0, "TERMINATED", result=result(10, 0.123456789)),
        trial(1, "RUNNING", result=result(3, 0.5)),
        trial(2, "TERMINATED", result=result(10, 0.25)),
    ]


def table_row(text: str, name: str) -> list[str]:
    """The cells of the table row of trial ``name``."""
    for line in text.splitlines():
        if f" {name} " in line and line.startswith(("│", "|")):
            return [cell.strip() for cell in re.split(r"[│|]", line)[1:-1]]
    raise AssertionError(f"no row for {name} in:\n{text}")


def table_header(text: str) -> list[str]:
    for line in text.splitlines():
        if "Trial name" in line:
            return [cell.strip() for cell in re.split(r"[│|]", line)[1:-1]]
    raise AssertionError(f"no table in:\n{text}")


# --- the table ------------------------------------------------------------------------------


def test_plain_report_shows_status_line_columns_and_compact_numbers() -> None:
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream, total_samples=5, clock=FakeClock())
    reporter.report(three_trials(), False, "Logical resource usage: 1.0/8 CPUs, 0/0 GPUs")
    text = stream.getvalue()

    assert "\x1b" not in text
    assert text.startswith("== Status ==\n")
    assert re.search(r"^Current time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", text, re.M)
    assert "Total running time: 0.0s" in text  # tenths below a minute (issue 20)
    assert "Logical resource usage: 1.0/8 CPUs, 0/0 GPUs\n" in text
    # issue 20: the trials not sampled yet count as PENDING
    assert "Number of trials: 3/5 (2 PENDING, 1 RUNNING, 2 TERMINATED)" in text
    # lr varies between trials, batch does not; timestamp/hostname/done are auto keys.
    assert table_header(text) == [
        "Trial name",
        "status",
        "loc",
        "lr",
        "iter",
        "total time (s)",
        "loss",
    ]
    assert table_row(text, "train_00000") == [
        "train_00000",
        "TERMINATED",
        "4010",
        "0.1",
        "10",
        "15",
        "0.12346",
    ]
    assert table_row(text, "train_00001") == [
        "train_00001",
        "RUNNING",
        "4003",
        "0.2",
        "3",
        "4.5",
        "0.5",
    ]
    assert "Current best trial" not in text
    assert "errored" not in text


def test_rows_keep_trial_order_and_numbers_are_right_aligned() -> None:
    stream = io.StringIO()
    CLIReporter(stream=stream).report(three_trials(), False)
    lines = [line for line in stream.getvalue().splitlines() if "train_0" in line]
    assert [re.search(r"train_\d+", line).group() for line in lines] == [
        "train_00000",
        "train_00001",
        "train_00002",
    ]
    header = next(line for line in stream.getvalue().splitlines() if "Trial name" in line)
    loss_end = header.index("loss") + len("loss")
    # "0.5" ends where the header "loss" ends: the numeric column is right-aligned.
    assert lines[1][loss_end - 3 : loss_end] == "0.5"


def test_best_trial_line_follows_metric_and_mode() -> None:
    stream = io.StringIO()
    CLIReporter(stream=stream, metric="loss", mode="min").report(three_trials(), False)
    assert (
        "Current best trial: id00000 with loss=0.12346 and params={'lr': 0.1, 'batch': 32}"
        in stream.getvalue()
    )
    stream = io.StringIO()
    CLIReporter(stream=stream, metric="loss", mode="max").report(three_trials(), False)
    assert "Current best trial: id00001 with loss=0.5 and params=" in stream.getvalue()


def test_explicit_columns_with_titles_and_nested_keys() -> None:
    trials = [
        trial(0, config={"model": {"depth": 4}, "lr": 0.1}, result={"info": {"acc": 0.9}}),
        trial(1, config={"model": {"depth": 8}, "lr": 0.1}, result={"info": {"acc": 0.8}}),
    ]
    stream = io.StringIO()
    reporter = CLIReporter(
        metric_columns={"info/acc": "accuracy", "missing": "never"},
        parameter_columns=["model/depth", "lr"],
        stream=stream,
    )
    reporter.report(trials, False)
    text = stream.getvalue()
    # A metric no trial reported is left out; parameters are always shown.
    assert table_header(text) == ["Trial name", "status", "loc", "model/depth", "lr", "accuracy"]
    assert table_row(text, "train_00001") == ["train_00001", "RUNNING", "", "8", "0.1", "0.8"]


def test_inferred_metrics_stop_at_infer_limit_and_include_the_search_metric() -> None:
    extra = {"m1": 1.0, "m2": 2.0, "m3": 3.0, "m4": 4.0, "note": "text"}
    trials = [trial(0, result=result(1, 0.5, **extra))]
    stream = io.StringIO()
    CLIReporter(stream=stream, infer_limit=2, metric="m4", mode="max").report(trials, False)
    header = table_header(stream.getvalue())
    # One trial: every config key is shown.
    assert header == ["Trial name", "status", "loc", "lr", "batch", "iter", "total time (s)",
                      "m4", "loss", "m1"]  # fmt: skip


def test_add_columns() -> None:
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream)
    reporter.add_metric_column("time_this_iter_s", "iter time")
    reporter.add_parameter_column("batch")
    trials = [trial(i, result=result(1, 0.5, time_this_iter_s=0.25)) for i in range(2)]
    reporter.report(trials, False)
    header = table_header(stream.getvalue())
    assert header[3:5] == ["lr", "batch"]
    assert header[-1] == "iter time"
    with pytest.raises(ValueError, match="already shown"):
        reporter.add_metric_column("time_this_iter_s")
    explicit = CLIReporter(metric_columns=["loss"])
    with pytest.raises(ValueError, match="already shown"):
        explicit.add_metric_column("loss")


def test_long_values_and_titles_are_abbreviated() -> None:
    trials = [
        trial(0, config={"optimizer/learning_rate_schedule": "cosine-with-warmup-restarts"}),
        trial(1, config={"optimizer/learning_rate_schedule": "linear"}),
    ]
    stream = io.StringIO()
    CLIReporter(stream=stream, max_column_length=12).report(trials, False)
    text = stream.getvalue()
    assert table_header(text)[3] == "..._schedule"
    assert table_row(text, "train_00000")[3] == "cosine-wi..."
    assert table_row(text, "train_00001")[3] == "linear"


def test_truncation_prioritises_running_and_error_rows() -> None:
    trials = [trial(i, "TERMINATED", result=result(10, 1.0 / (i + 1))) for i in range(20)]
    trials += [trial(20 + i, "RUNNING", result=result(2, 0.9)) for i in range(3)]
    trials += [trial(23, "ERROR", result=result(1, 0.9), num_failures=2)]
    trials += [trial(24, "PENDING")]
    stream = io.StringIO()
    CLIReporter(stream=stream, max_progress_rows=6).report(trials, False)
    text = stream.getvalue()
    names = re.findall(r"│ (train_\d+) ", text.split("Number of errored")[0])
    assert names == [
        "train_00000",
        "train_00020",
        "train_00021",
        "train_00022",
        "train_00023",
        "train_00024",
    ]
    assert "... 19 more trials not shown (19 TERMINATED)" in text
    assert "Number of trials: 25 (1 PENDING, 3 RUNNING, 20 TERMINATED, 1 ERROR)" in text


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("min", ["train_00001", "train_00003", "train_00005", "train_00000"]),
        ("max", ["train_00002", "train_00004", "train_00000", "train_00005"]),
    ],
)
def test_sort_by_metric_orders_rows_and_keeps_the_best_finished_trials(
    mode: str, expected: list[str]
) -> None:
    losses = [0.5, 0.1, 0.9, 0.3, 0.7]
    trials = [trial(i, "TERMINATED", result=result(10, loss)) for i, loss in enumerate(losses)]
    trials.append(trial(5, "RUNNING", result=result(3, 0.4)))
    stream = io.StringIO()
    reporter = CLIReporter(
        stream=stream, metric="loss", mode=mode, sort_by_metric=True, max_progress_rows=4
    )
    reporter.report(trials, False)
    names = re.findall(r"│ (train_\d+) ", stream.getvalue())
    # RUNNING first when choosing, then the best TERMINATED; shown best first.
    assert names == expected
    assert "... 2 more trials not shown (2 TERMINATED)" in stream.getvalue()


def test_error_table_lists_failures_and_error_files() -> None:
    trials = [trial(i, "ERROR", num_failures=i + 1) for i in range(3)] + [trial(3, "RUNNING")]
    stream = io.StringIO()
    CLIReporter(stream=stream, max_error_rows=2).report(trials, False)
    text = stream.getvalue()
    assert "Number of errored trials: 3" in text
    errors = text.split("Number of errored trials: 3")[1]
    assert table_header(errors) == ["Trial name", "# failures", "error file"]
    assert table_row(errors, "train_00001") == ["train_00001", "2", "/exp/train_00001/error.txt"]
    assert "train_00002" not in errors.split("more errored")[0]
    assert "... 1 more errored trials not shown" in errors


def test_ascii_table_when_the_stream_cannot_encode_boxes() -> None:
    stream = AsciiStream()
    CLIReporter(stream=stream).report(three_trials(), False)
    text = stream.getvalue()
    assert "+-" in text and "| train_00000 " in text
    assert "─" not in text and "│" not in text
    text.encode("ascii")


def test_running_time_and_experiment_path_from_setup() -> None:
    clock = FakeClock(1000.0)
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream, clock=clock)
    reporter.setup(start_time=1000.0 - 3725, total_samples=7, metric="loss", mode="min",
                   experiment_path="/results/exp")  # fmt: skip
    reporter.report(three_trials(), True)
    text = stream.getvalue()
    assert "Total running time: 1hr 2min 5s" in text
    assert "Result logdir: /results/exp" in text
    assert "Number of trials: 3/7 " in text
    assert "Current best trial: id00000 with loss=0.12346" in text


def test_search_properties_conflicts_raise() -> None:
    reporter = CLIReporter(metric="loss", mode="min")
    assert reporter.set_search_properties("loss", "min") is True
    with pytest.raises(ValueError, match="metric is 'acc'"):
        reporter.set_search_properties("acc", None)
    with pytest.raises(ValueError, match="mode is 'best'"):
        CLIReporter(mode="best")
    with pytest.raises(ValueError, match="max_progress_rows is 0"):
        CLIReporter(max_progress_rows=0)
    with pytest.raises(TypeError, match="metric_columns"):
        CLIReporter(metric_columns="loss")  # type: ignore[arg-type]


# --- throttling ---------------------------------------------------------------------------


def test_should_report_throttles_to_five_seconds_in_a_log() -> None:
    clock = FakeClock()
    reporter = CLIReporter(stream=io.StringIO(), clock=clock)
    trials = three_trials()
    answers = []
    for now in (100.0, 101.0, 104.9, 105.0, 105.1, 110.0):
        clock.now = now
        answers.append(reporter.should_report(trials))
    assert answers == [True, False, False, True, False, True]
    assert reporter.should_report(trials, done=True)


def test_should_report_refreshes_every_half_second_in_a_terminal() -> None:
    clock = FakeClock()
    reporter = CLIReporter(stream=TTY(), clock=clock)
    answers = []
    for now in (100.0, 100.3, 100.5, 100.9, 101.0):
        clock.now = now
        answers.append(reporter.should_report([]))
    assert answers == [True, False, True, False, True]


def test_explicit_report_frequency_is_honoured_in_a_terminal() -> None:
    clock = FakeClock()
    reporter = CLIReporter(stream=TTY(), clock=clock, max_report_frequency=2)
    assert reporter.should_report([])
    clock.now += 1
    assert not reporter.should_report([])
    clock.now += 1
    assert reporter.should_report([])


def test_no_intermediate_tables() -> None:
    reporter = CLIReporter(stream=io.StringIO(), print_intermediate_tables=False)
    assert not reporter.should_report([])
    assert reporter.should_report([], done=True)


# --- live redraw in a terminal -------------------------------------------------------------


def test_terminal_redraws_the_table_in_place() -> None:
    stream = TTY()
    reporter = CLIReporter(stream=stream)
    trials = three_trials()
    reporter.report(trials, False)
    first = stream.getvalue()
    assert "\x1b" not in first  # nothing to erase yet
    first_lines = first.count("\n")

    reporter.report(trials, False)
    second = stream.getvalue()[len(first) :]
    assert second.startswith(f"\x1b[{first_lines}F\x1b[J")
    assert second.count("\n") == first_lines

    reporter.report(trials, True)
    final = stream.getvalue()[len(first) + len(second) :]
    assert final.startswith(f"\x1b[{first_lines}F\x1b[J")
    assert "Number of trials: 3 (1 RUNNING, 2 TERMINATED)" in final

    # The final table stays: later output does not erase it.
    reporter.print_line("bye")
    assert stream.getvalue().endswith(final + "bye\n")


def test_log_output_appends_blocks() -> None:
    stream = io.StringIO()
    reporter = CLIReporter(stream=stream)
    reporter.report(three_trials(), False)
    reporter.report(three_trials(), False)
    reporter.report(three_trials(), True)
    text = stream.getvalue()
    assert text.count("== Status ==") == 3
    assert "\x1b" not in text


def test_print_line_goes_above_the_live_table() -> None:
    stream = TTY()
    clock = FakeClock()
    reporter = CLIReporter(stream=stream, clock=clock)
    reporter.report(three_trials(), False)
    frame = stream.getvalue()
    clock.now += 0.2  # issue 20: redrawn for a line at most every 0.2 s
    reporter.print_line("Trial train_00000 completed after 10 iterations")
    written = stream.getvalue()[len(frame) :]
    assert written == f"\x1b[{frame.count(chr(10))}F\x1b[J" + (
        "Trial train_00000 completed after 10 iterations\n" + frame
    )
    # The next redraw erases only the table, not the printed line.
    reporter.report(three_trials(), False)
    assert ERASE.findall(stream.getvalue())[-1] == str(frame.count("\n"))


def test_lines_that_come_fast_wait_for_one_redraw() -> None:
    # Many trials finishing at once redraw the table once, not once per line (issue 20).
    stream = TTY()
    clock = FakeClock()
    reporter = CLIReporter(stream=stream, clock=clock)
    reporter.report(three_trials(), False)
    drawn = len(stream.getvalue())
    for i in range(50):
        reporter.print_line(f"Trial train_{i:05d} completed")
    assert len(stream.getvalue()) == drawn  # held: the table was drawn just now
    clock.now += 0.1
    reporter.flush_lines()
    assert len(stream.getvalue()) == drawn
    clock.now += 0.15
    reporter.flush_lines()
    written = stream.getvalue()[drawn:]
    assert written.count("== Status ==") == 1 and written.count(" completed") == 50
    assert written.index("train_00049 completed") < written.index("== Status ==")
    # A report takes the lines that wait, above its table; so does the final one.
    reporter.print_line("Trial last completed")
    reporter.report(three_trials(), True)
    final = stream.getvalue()[drawn + len(written) :]
    assert re.match(r"\x1b\[\d+F\x1b\[JTrial last completed\n== Status ==\n", final)


def test_wrapped_lines_count_as_several_terminal_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    stream = TTY()
    reporter = CLIReporter(stream=stream)
    reporter.report(three_trials(), False)
    frame = stream.getvalue()
    rows = sum(max(1, -(-len(line) // 40)) for line in frame.splitlines())
    assert rows > frame.count("\n")
    reporter.report(three_trials(), False)
    assert ERASE.findall(stream.getvalue()) == [str(rows)]


def test_live_frame_is_cut_to_the_terminal_height(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINES", "12")
    stream = TTY()
    reporter = CLIReporter(stream=stream)
    trials = [trial(i, result=result(1, 0.5)) for i in range(15)]
    reporter.report(trials, False)
    live = stream.getvalue()
    assert live.count("\n") == 11
    assert re.search(r"\.\.\. \d+ more lines \(enlarge the terminal to see them\)\n$", live)
    # The final table is complete.
    reporter.report(trials, True)
    assert stream.getvalue().count("train_00014") == 1


# --- per-trial lines, printer, summary -------------------------------------------------------


def test_result_line_brief_and_detailed() -> None:
    t = trial(0, config={"lr": 0.01})
    res = {"mean_loss": 1.2, "nested": {"acc": 0.912345678}, **result(3, 0.5)}
    res.pop("loss")
    brief = format_trial_result_line(t, res, detailed=False)
    assert (
        brief
        == "Trial train_00000 reported mean_loss=1.2,nested/acc=0.91235,training_iteration=3."
    )
    detailed = format_trial_result_line(t, res, detailed=True)
    assert detailed.startswith("Trial train_00000 reported mean_loss=1.2,nested/acc=0.91235,")
    assert "pid=4003" in detailed and "hostname=box" in detailed
    assert detailed.endswith(" with parameters={'lr': 0.01}.")


def test_trial_end_lines() -> None:
    now = datetime(2024, 5, 1, 12, 30, 0)
    done = trial(0, "TERMINATED", result=result(10, 0.1))
    assert format_trial_end_line(done, 3.7, now=now) == (
        "Trial train_00000 completed after 10 iterations at 2024-05-01 12:30:00. "
        "Total running time: 3.7s"  # issue 20: tenths below a minute
    )
    failed = trial(1, "ERROR", result=result(1, 0.1))
    assert format_trial_end_line(failed, 75, now=now) == (
        "Trial train_00001 errored after 1 iteration at 2024-05-01 12:30:00. "
        "Total running time: 1min 15s\nError file: /exp/train_00001/error.txt"
    )
    assert format_trial_end_line(done, now=now).endswith("at 2024-05-01 12:30:00.")


def test_printer_lines_by_verbosity() -> None:
    clock = FakeClock()
    t = trial(0, "TERMINATED", result=result(4, 0.25))
    for verbose, expected in ((1, 0), (2, 2), (3, 3)):
        stream = io.StringIO()
        printer = TrialProgressPrinter(verbose, stream=stream, clock=clock)
        printer.setup()
        clock.now += 12
        printer.on_trial_result(1, [t], t, {"loss": 0.25, "training_iteration": 4})
        printer.on_trial_complete(1, [t], t)
        printer.on_trial_error(1, [t], t)
        lines = stream.getvalue().splitlines()
        assert len([line for line in lines if line.startswith("Trial ")]) == expected
    assert lines[0] == "Trial train_00000 reported loss=0.25,training_iteration=4."
    assert lines[1].startswith("Trial train_00000 completed after 4 iterations at ")
    assert lines[1].endswith("Total running time: 12.0s")
    assert lines[2].startswith("Trial train_00000 errored after 4 iterations")


def test_printer_goes_through_the_live_reporter() -> None:
    stream = TTY()
    clock = FakeClock()
    reporter = CLIReporter(stream=stream, clock=clock)
    reporter.report(three_trials(), False)
    before = len(stream.getvalue())
    clock.now += 0.2  # issue 20: redrawn for a line at most every 0.2 s
    t = three_trials()[0]
    TrialProgressPrinter(2, reporter=reporter).on_trial_complete(1, [t], t)
    frame, written = stream.getvalue()[:before], stream.getvalue()[before:]
    # Erase the table, print the line, draw the table again below it.
    assert written.endswith("\n" + frame)
    head = written[: -len(frame)]
    pattern = rf"\x1b\[{frame.count(chr(10))}F\x1b\[JTrial train_00000 completed after 10 [^\n]+\n"
    assert re.fullmatch(pattern, head)


def test_final_summary() -> None:
    trials = three_trials() + [trial(3, "ERROR", result=result(1, 0.01))]
    text = final_summary(trials, "loss", "min", experiment_path="/results/exp", total_time_s=62)
    assert text.splitlines() == [
        "== Experiment finished ==",
        "Number of trials: 4 (1 RUNNING, 2 TERMINATED, 1 ERROR)",
        "Total running time: 1min 2s",
        "Best trial: train_00003 with loss=0.01 (min)",
        "Best config: {'lr': 0.4, 'batch': 32}",
        "Errored trials: train_00003",
        "Results: /results/exp",
        # issue 20: the table of the best trials, best first
        "Best 4 of 4 trials by loss (min):",
        "╭─────────────┬────────────┬─────┬─────────┬──────┬────────────────╮",
        "│ Trial name  │ status     │  lr │    loss │ iter │ total time (s) │",
        "├─────────────┼────────────┼─────┼─────────┼──────┼────────────────┤",
        "│ train_00003 │ ERROR      │ 0.4 │    0.01 │    1 │            1.5 │",
        "│ train_00000 │ TERMINATED │ 0.1 │ 0.12346 │   10 │             15 │",
        "│ train_00002 │ TERMINATED │ 0.3 │    0.25 │   10 │             15 │",
        "│ train_00001 │ RUNNING    │ 0.2 │     0.5 │    3 │            4.5 │",
        "╰─────────────┴────────────┴─────┴─────────┴──────┴────────────────╯",
    ]
    bare = final_summary(three_trials())
    assert "Best trial" not in bare and "Results" not in bare
    assert "Best trial: train_00001 with loss=0.5 (max)" in final_summary(trials, "loss", "max")


def test_best_trial_ignores_nan_and_missing_values() -> None:
    trials = [
        trial(0, result={"loss": float("nan")}),
        trial(1, result={}),
        trial(2, result={"loss": np.float32(0.75)}),
    ]
    assert "Best trial: train_00002 with loss=0.75" in final_summary(trials, "loss", "min")


# --- make_reporter ---------------------------------------------------------------------------


def test_make_reporter_by_verbosity() -> None:
    class Mine(ProgressReporter):
        pass

    mine = Mine()
    assert make_reporter(0) is None
    assert make_reporter(0, reporter=mine) is None
    assert make_reporter(1, reporter=mine) is mine
    assert make_reporter(3, reporter=mine) is mine
    assert isinstance(make_reporter(2), CLIReporter)
    assert isinstance(make_reporter(3), CLIReporter)
    for bad in (-1, 4, True, "2"):
        with pytest.raises(ValueError, match="verbose is"):
            make_reporter(bad)  # type: ignore[arg-type]


def test_verbose_one_prints_only_the_summary_at_the_end() -> None:
    stream = TTY()
    reporter = make_reporter(1, stream=stream)
    assert reporter is not None and not isinstance(reporter, CLIReporter)
    reporter.setup(metric="loss", mode="min", experiment_path="/results/exp")
    assert not reporter.should_report(three_trials())
    assert reporter.should_report(three_trials(), done=True)
    reporter.report(three_trials(), True)
    text = stream.getvalue()
    assert text.startswith("== Experiment finished ==\n")
    assert "Best trial: train_00000 with loss=0.12346 (min)" in text
    assert "Results: /results/exp" in text
    assert "\x1b" not in text and "== Status ==" not in text and "Current time" not in text
    assert "Best 3 of 3 trials by loss (min):" in text  # issue 20: the summary's table


def test_verbose_two_in_a_terminal_is_live() -> None:
    stream = TTY()
    reporter = make_reporter(2, stream=stream)
    assert reporter is not None
    reporter.report(three_trials(), False)
    reporter.report(three_trials(), False)
    assert ERASE.search(stream.getvalue())


def test_default_stream_is_stdout_at_print_time(capsys: pytest.CaptureFixture[str]) -> None:
    CLIReporter().report(three_trials(), True)
    assert "Number of trials: 3 (1 RUNNING, 2 TERMINATED)" in capsys.readouterr().out


def test_public_names() -> None:
    import overtone.progress

    assert sorted(overtone.progress.__all__) == [
        "CLIReporter",
        "JupyterNotebookReporter",
        "ProgressReporter",
        "TrialProgressPrinter",
        "final_summary",
        "format_trial_end_line",
        "format_trial_result_line",
        "make_reporter",
    ]


# --- cells and tables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (np.int64(7), "7"),
        (0.123456789, "0.12346"),
        (1234567.0, "1.2346e+06"),
        (2.0, "2"),
        (float("nan"), "nan"),
        (True, "True"),
        (None, ""),
        ("a\nb", "a b"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_render_table() -> None:
    lines = render_table(["name", "n"], [["a", "1"], ["bcd", "22"]], [False, True])
    assert lines == [
        "╭──────┬────╮",
        "│ name │  n │",
        "├──────┼────┤",
        "│ a    │  1 │",
        "│ bcd  │ 22 │",
        "╰──────┴────╯",
    ]
    with pytest.raises(ValueError, match="a row has 1 cells"):
        render_table(["a", "b"], [["x"]])
