"""The dashboard in a real headless Chromium: table against the files, live updates, plots,
scheduler views, importance and the trial page."""

from __future__ import annotations

import math

from made_experiments import journal, shot, state_of

PLOT_DATA = "(id) => { const d = document.getElementById(id); return d && d.data || null; }"


def open_experiment(page, server, name: str) -> None:
    page.goto(f"{server.url}#/exp/{name}")
    page.wait_for_selector("#trials tbody tr")


def cell(row, column: str) -> str:
    return row.locator(f'td[data-col="{column}"]').inner_text().strip()


def close(text: str, value: float) -> bool:
    return math.isclose(float(text), value, rel_tol=1e-4, abs_tol=1e-9)


def test_the_experiments_list_names_every_experiment(page, server, storage):
    page.goto(server.url)
    page.wait_for_selector("#experiments tbody tr[data-name]")
    names = page.locator("#experiments tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"
    )
    assert names == ["asha", "finished", "pbt", "running"]
    running = page.locator('#experiments tr[data-name="running"]').inner_text()
    assert "RUNNING" in running
    page.locator('#experiments a[href="#/exp/finished"]').click()
    page.wait_for_selector("#trials tbody tr")


def test_the_trial_table_matches_the_files(page, server, storage, tmp_path):
    experiment = storage["finished"]
    open_experiment(page, server, "finished")
    state = state_of(experiment)
    rows = page.locator("#trials tbody tr")
    assert rows.count() == len(state["trials"]) == 6
    for entry in state["trials"]:
        row = page.locator(f'#trials tbody tr[data-trial-id="{entry["trial_id"]}"]')
        results = journal(experiment / entry["dirname"])
        assert cell(row, "status") == entry["status"]
        assert cell(row, "trial_name") == entry["trial_name"]
        assert int(cell(row, "iterations")) == results[-1]["training_iteration"]
        assert close(cell(row, "last"), results[-1]["loss"])
        assert close(cell(row, "best"), min(r["loss"] for r in results))
        assert close(cell(row, "config/lr"), entry["config"]["lr"])
    # Sorting by a header, then filtering, both without a request for the page.
    page.locator('th[data-sort="best"]').click()
    bests = [float(t) for t in page.locator('#trials td[data-col="best"]').all_inner_texts()]
    assert bests == sorted(bests)
    page.locator('th[data-sort="best"]').click()
    bests = [float(t) for t in page.locator('#trials td[data-col="best"]').all_inner_texts()]
    assert bests == sorted(bests, reverse=True)
    page.fill("#filter", "status=ERROR")
    statuses = page.locator('#trials td[data-col="status"]').all_inner_texts()
    assert statuses == ["ERROR"] * 3
    page.fill("#filter", "lr>0.15 status=TERMINATED")
    lrs = [float(t) for t in page.locator('#trials td[data-col="config/lr"]').all_inner_texts()]
    assert sorted(lrs) == [0.2, 0.3]
    shot(page, tmp_path, "finished-table")


def test_each_plot_has_one_trace_per_selected_trial(page, server, storage, tmp_path):
    open_experiment(page, server, "finished")
    page.wait_for_function(f"({PLOT_DATA})('curves') && ({PLOT_DATA})('curves').length > 0")
    selected = page.locator("#trials input[data-select]:checked").evaluate_all(
        "boxes => boxes.map(b => b.dataset.select)"
    )
    assert len(selected) == 5  # the best five by default
    curves = page.evaluate(f"({PLOT_DATA})('curves')")
    assert sorted(t["meta"] for t in curves) == sorted(selected)
    dirnames = {t["trial_id"]: t["dirname"] for t in state_of(storage["finished"])["trials"]}
    for trace in curves:  # each curve is its trial's journal
        results = journal(storage["finished"] / dirnames[trace["meta"]])
        assert trace["y"] == [r["loss"] for r in results]
    # Tick one more trial: one more curve.
    extra_id = page.locator("#trials input[data-select]:not(:checked)").first.get_attribute(
        "data-select"
    )
    page.locator(f'#trials input[data-select="{extra_id}"]').click()  # the table is redrawn
    page.wait_for_function(f"({PLOT_DATA})('curves').length === 6")
    assert extra_id in {t["meta"] for t in page.evaluate(f"({PLOT_DATA})('curves')")}
    selected.append(extra_id)
    page.locator("#scatter").scroll_into_view_if_needed()
    page.wait_for_function(
        f"({PLOT_DATA})('scatter') && ({PLOT_DATA})('scatter').filter(t => t.meta).length === 6"
    )
    scatter = page.evaluate(f"({PLOT_DATA})('scatter')")
    assert sorted(t["meta"] for t in scatter if t.get("meta")) == sorted(selected)
    page.locator("#parcoords").scroll_into_view_if_needed()
    page.wait_for_function(f"({PLOT_DATA})('parcoords')")
    parcoords = page.evaluate(f"({PLOT_DATA})('parcoords')")
    assert len(parcoords) == 1 and parcoords[0]["type"] == "parcoords"
    labels = [d["label"] for d in parcoords[0]["dimensions"]]
    assert labels == ["lr", "b", "fail", "loss"]
    assert all(len(d["values"]) == 6 for d in parcoords[0]["dimensions"])
    shot(page, tmp_path, "finished-plots")


def test_a_running_experiment_updates_without_reload(page, server, storage, tmp_path):
    running = storage["running"]
    open_experiment(page, server, "running")
    page.evaluate("window.__same_document = true")
    entry = next(t for t in state_of(running.path)["trials"] if t["status"] == "RUNNING")
    trial_id = entry["trial_id"]
    row = f'#trials tbody tr[data-trial-id="{trial_id}"] td[data-col="iterations"]'
    shown = int(page.locator(row).inner_text())
    # The experiment reports every 0.25 s: a larger count appears on its own.
    page.wait_for_function(
        f"parseInt(document.querySelector('{row}').innerText) > {shown}", timeout=15000
    )
    assert page.evaluate("window.__same_document") is True
    assert page.locator("#live").is_visible()
    on_disk = journal(running.path / entry["dirname"])
    assert int(page.locator(row).inner_text()) <= on_disk[-1]["training_iteration"]
    shot(page, tmp_path, "running")


def test_the_asha_view_shows_rungs_and_stopped_trials(page, server, storage):
    experiment = storage["asha"]
    open_experiment(page, server, "asha")
    page.wait_for_selector("#rungs tbody tr")
    state = state_of(experiment)
    reached = {
        t["trial_id"]: journal(experiment / t["dirname"])[-1]["training_iteration"]
        for t in state["trials"]
    }
    top = max(reached.values())
    stopped_at = sorted(it for it in reached.values() if it < top)
    assert stopped_at, "ASHA stopped nothing: the test experiment is wrong"
    rows = page.locator("#rungs tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    assert [int(r[0]) for r in rows] == sorted(set(stopped_at))
    for rung, count, _, stopped, _ in rows:
        assert int(count) == sum(it >= int(rung) for it in reached.values())
        assert int(stopped) == stopped_at.count(int(rung))


def test_the_pbt_view_lists_every_exploit(page, server, storage):
    experiment = storage["pbt"]
    exploits = (experiment / "pbt_global.txt").read_text().splitlines()
    assert exploits
    open_experiment(page, server, "pbt")
    page.wait_for_selector("#exploits tbody tr")
    assert page.locator("#exploits tbody tr").count() == len(exploits)
    assert "lr:" in page.locator("#exploits tbody tr").first.inner_text()


def test_importance_is_computed_on_demand(page, server, storage):
    open_experiment(page, server, "finished")
    page.locator("#importance").scroll_into_view_if_needed()
    page.click("#importance-btn")
    page.wait_for_function(f"({PLOT_DATA})('importance') && ({PLOT_DATA})('importance').length")
    bars = page.evaluate(f"({PLOT_DATA})('importance')")[0]
    assert set(bars["y"]) == {"lr", "b", "fail"}
    assert math.isclose(sum(bars["x"]), 1.0)


def test_the_trial_page_shows_config_error_and_checkpoints(page, server, storage, tmp_path):
    state = state_of(storage["finished"])
    failed = next(t for t in state["trials"] if t["status"] == "ERROR")
    page.goto(f"{server.url}#/exp/finished/trial/{failed['trial_id']}")
    page.wait_for_selector("#error")
    assert "RuntimeError: boom on purpose" in page.inner_text("#error")
    assert "lr" in page.inner_text("#config")
    assert page.locator("#results tbody tr").count() == 3
    ok = next(t for t in state["trials"] if t["status"] == "TERMINATED")
    page.goto(f"{server.url}#/exp/finished/trial/{ok['trial_id']}")
    page.wait_for_selector("#checkpoints tbody tr")
    names = page.locator("#checkpoints tbody td:first-child").all_inner_texts()
    assert names == [c["dirname"] for c in ok["checkpoints"]]
    with page.expect_download() as info:
        page.locator("#checkpoints a").first.click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    import zipfile

    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == [
            f"{names[0]}/step",
            f"{names[0]}/weights.bin",
        ]
    files = page.locator("#files a").all_inner_texts()
    assert "result.json" in files and "params.json" in files
    shot(page, tmp_path, "trial")
