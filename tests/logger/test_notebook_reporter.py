"""JupyterNotebookReporter: an HTML table shown once and then updated in place."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from overtone import tune
from overtone._trial import FrozenTrial, Resources, TrialStatus
from overtone.progress import JupyterNotebookReporter
from overtone.progress._notebook import in_notebook

pytest.importorskip("IPython")


class FakeHandle:
    def __init__(self, display: FakeDisplay) -> None:
        self.display = display

    def update(self, obj) -> None:
        self.display.calls.append(("update", obj.data))


class FakeDisplay:
    """Stands in for IPython.display.display, which needs a notebook front end to show."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, obj, display_id=None):
        assert display_id is True
        self.calls.append(("display", obj.data))
        return FakeHandle(self)


@pytest.fixture
def display(monkeypatch) -> FakeDisplay:
    fake = FakeDisplay()
    monkeypatch.setattr("IPython.display.display", fake)
    return fake


def trial(i: int, status: TrialStatus, loss: float | None, **config) -> FrozenTrial:
    result = {} if loss is None else {"loss": loss, "training_iteration": 3, "pid": 100 + i}
    return FrozenTrial(
        trial_id=f"t{i}",
        trial_name=f"train_t{i}",
        config={"lr": 0.1 * i, **config},
        status=status,
        last_result=result,
        path=f"/results/exp/train_t{i}",
        resources=Resources(),
    )


def trials() -> list[FrozenTrial]:
    return [
        trial(1, TrialStatus.TERMINATED, 0.5),
        trial(2, TrialStatus.RUNNING, 0.25),
        trial(3, TrialStatus.ERROR, 0.9),
        trial(4, TrialStatus.PENDING, None),
    ]


def test_the_table_is_displayed_once_then_updated_in_place(display):
    reporter = JupyterNotebookReporter(metric_columns=["loss"], parameter_columns=["lr"])
    reporter.report(trials(), False, "Logical resource usage: 1/2 CPUs")
    reporter.report(trials(), True)
    assert [kind for kind, _ in display.calls] == ["display", "update"]
    page = display.calls[0][1]
    assert "<table>" in page and "<th>lr</th>" in page and "<th>loss</th>" in page
    for name in ("train_t1", "train_t2", "train_t3", "train_t4"):
        assert name in page
    assert "Logical resource usage: 1/2 CPUs" in page
    assert "Number of trials: 4 (1 PENDING, 1 RUNNING, 1 TERMINATED, 1 ERROR)" in page
    assert "Number of errored trials: 1" in page and "/results/exp/train_t3/error.txt" in page
    assert '<td class="num">0.25</td>' in page


def test_overwrite_false_adds_a_table_per_report(display):
    reporter = JupyterNotebookReporter(overwrite=False)
    reporter.report(trials(), False)
    reporter.report(trials(), False)
    assert [kind for kind, _ in display.calls] == ["display", "display"]


def test_rows_columns_and_sorting(display):
    reporter = JupyterNotebookReporter(
        max_progress_rows=2,
        sort_by_metric=True,
        metric="loss",
        mode="min",
        metric_columns={"loss": "L"},
    )
    reporter.report(trials(), False)
    page = display.calls[-1][1]
    assert "<th>L</th>" in page
    # RUNNING and ERROR trials first; two rows at most; the rest counted.
    assert "train_t2" in page.split("<table>")[1] and "train_t3" in page.split("<table>")[1]
    assert "2 more trials not shown (1 PENDING, 1 TERMINATED)" in page
    assert "Current best trial: t2 with loss=0.25" in page


def test_text_is_escaped(display):
    reporter = JupyterNotebookReporter(parameter_columns=["name"])
    reporter.report([trial(1, TrialStatus.RUNNING, 1.0, name="<b>&</b>")], False)
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in display.calls[-1][1]


def test_reports_at_most_every_max_report_frequency():
    now = [100.0]
    reporter = JupyterNotebookReporter(max_report_frequency=5)
    reporter._clock = lambda: now[0]
    assert reporter.should_report(trials())
    now[0] += 4
    assert not reporter.should_report(trials())
    now[0] += 1.5
    assert reporter.should_report(trials())
    assert reporter.should_report(trials(), done=True)


def test_not_a_notebook_here():
    assert in_notebook() is False


def steps(config):
    for step in range(3):
        tune.report({"loss": config["x"] / (step + 1)})


def test_in_a_run(tmp_path, executor, display, capsys):
    reporter = JupyterNotebookReporter(max_report_frequency=0)
    tune.run(
        steps,
        config={"x": tune.grid_search([1, 2])},
        storage_path=str(tmp_path),
        verbose=2,
        executor=executor,
        progress_reporter=reporter,
    )
    assert display.calls[0][0] == "display"
    assert all(kind == "update" for kind, _ in display.calls[1:])
    final = display.calls[-1][1]
    assert "2 TERMINATED" in final and "<th>loss</th>" in final
    assert "completed after 3 iterations" in capsys.readouterr().out  # lines go to the cell


def test_with_ipythons_own_display_machinery(tmp_path):
    # A real InteractiveShell in a fresh process: what a notebook's kernel receives.
    code = textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.utils.capture import capture_output
        from overtone._trial import FrozenTrial, Resources, TrialStatus
        from overtone.progress import JupyterNotebookReporter

        InteractiveShell.instance()
        t = FrozenTrial("t1", "train_t1", {"lr": 0.1}, TrialStatus.RUNNING,
                        {"loss": 0.5, "training_iteration": 1}, "/r/t1", Resources())
        reporter = JupyterNotebookReporter()
        with capture_output() as captured:
            reporter.report([t], False)
            reporter.report([t], True)
        first, second = captured.outputs
        assert "train_t1" in first.data["text/html"]
        assert first.transient["display_id"] == second.transient["display_id"]
        print(first.update, second.update)
    """)
    env = {"IPYTHONDIR": str(tmp_path / "ipython"), "PATH": "", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
